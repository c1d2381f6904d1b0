"""Code that runs on the far side of the sandbox, under the course's interpreter.

The rule for every file here: it imports nothing of `grader` or `reference` (only the standard
library, numpy and, for the notebook runner, nbformat and nbclient), and it runs on Python 3.8+
with NumPy 1.x or 2.x. The files are not imported by the grader; they are started or copied
into a submission's workspace:

- `server.py`: the fork server that runs programs for one submission (started by grader.sandbox);
- `notebook_runner.py`: executes a notebook with nbclient and captures the kernel's state;
- `notebook_data_utils.py`: the notebook's `data_utils`, reading the grading data set;
- `explain_import.py`: why a student's module does not import (file, line, caret), as plain data.

tests/sandbox/test_sandboxed.py enforces the rule.
"""

from pathlib import Path

DIRECTORY = Path(__file__).parent
