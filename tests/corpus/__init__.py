"""A labelled corpus of attacks and benign requests, and its detection / false-alarm figures."""
