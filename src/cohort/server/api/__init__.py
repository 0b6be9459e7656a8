"""HTTP routers: thin (validate -> service -> response model), one per resource."""
