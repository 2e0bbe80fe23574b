"""The SQL read model: a projection of workflow state for listing, search and dashboards."""
