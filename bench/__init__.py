"""Load benchmark of the gateway against a direct upstream and an nginx reverse proxy."""
