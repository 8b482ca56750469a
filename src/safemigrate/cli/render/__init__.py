"""One renderer per result type, text and JSON (``--format json`` prints the result's ``to_dict``).

Each module renders one family of results and is imported by the commands that show them,
so a command loads only its own renderer (a run's live progress is ``runtime.CliReporter``):

* :mod:`.engine`: a run (up, down, goto), a plan (plan, --dry-run), force, drop
* :mod:`.create`: create's pair of files
* :mod:`.lint_gate`: the lint gate's summary before a run
* :mod:`.status`: status
* :mod:`.inspect`: check, history
* :mod:`.backup`: backup create, list, show, verify, restore, prune, pin, import, and their progress
* :mod:`.recover`: recover's diagnosis and repair
* :mod:`.release`: release and preflight
* :mod:`.config`: config show
"""
