"""Running untrusted student code: a private workspace and a fork server per submission.

The package's face: `Sandbox` (sandbox.py) runs programs (built with steps.py) and answers
with a `Reply`: decoded values, or a `CallError` saying what the student's code did. How the
server is started lives in isolation.py and cgroup.py, the reply's decoding in wire.py, the
parent's sweep of leftover processes in processes.py. What runs on the far side is in
grader/sandboxed/.
"""

from grader.sandbox.sandbox import CallError, Limits, Reply, Sandbox, interrupt_all, resume_all
from grader.sandbox.wire import Opaque

__all__ = ["CallError", "Limits", "Opaque", "Reply", "Sandbox", "interrupt_all", "resume_all"]
