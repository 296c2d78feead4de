"""The measured processes. Each is started fresh by the harness and reports through a JSON file.

Both sides of a comparison import the same helpers from here, so their overhead is equal.
"""
