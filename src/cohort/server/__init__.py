"""The server: admin, fleet and internal APIs, scheduler, and job launcher."""
