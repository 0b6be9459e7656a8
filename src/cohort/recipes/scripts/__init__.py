"""Site scripts that ship with Cohort, used by recipes built from a JSON config (REST v1)."""
