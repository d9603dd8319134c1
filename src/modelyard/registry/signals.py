"""Registry events other apps react to, sent after the transaction that caused them commits.

`version_registered(version_id, kind, flavor)`: a new version's rows and bytes are in place.
`alias_moved(version_id, kind, asset_ref, alias)`: an alias now points at that version
(a promotion, when the alias is an environment's).
Deployment converts scikit-learn models to ONNX on it; jobs will start runs on it. Sending
a signal keeps the registry free of imports from the apps that build on it.
"""

from __future__ import annotations

from django.dispatch import Signal

version_registered = Signal()
alias_moved = Signal()
