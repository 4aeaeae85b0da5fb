"""The stage vocabulary: the four stages a plugin can run in, in the order they run."""

STAGES = ("pre_request", "post_request", "pre_response", "post_response")
