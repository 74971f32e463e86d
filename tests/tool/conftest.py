import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tools"))
LOGS = os.path.join(TOP, "tests", "logs")


def read_log(name):
    with open(os.path.join(LOGS, name)) as f:
        return f.read()
