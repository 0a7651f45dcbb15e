"""``python -m atp.audit``: the audit log's writer, as a child of ``atp serve``
(``atp.audit._process``); it takes its settings from its stdin, not its environment."""

from atp.audit._process import follow_for_parent

follow_for_parent()
