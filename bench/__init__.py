"""`make bench`: the project against the bare minimum the same work needs, on one machine, in one run.

Issue 6 holds the budgets; `python -m bench --help` lists the knobs. Nothing here ships in the Lambda.
"""
