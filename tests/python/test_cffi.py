# SPDX-License-Identifier: MIT
"""The header is usable from cffi's ABI mode (no C compiler build step)."""
import os
import shutil
import subprocess
import sys
import unittest

import support
import alerting

HERE = os.path.dirname(os.path.abspath(__file__))


def python_with_cffi():
    """This interpreter if it has cffi, else Debian's (python3-cffi), else None."""
    for python in (sys.executable, "/usr/bin/python3"):
        if python and os.path.exists(python):
            p = subprocess.run([python, "-c", "import cffi"], capture_output=True)
            if p.returncode == 0:
                return python
    return None


class Cffi(unittest.TestCase):
    def test_cffi_abi_mode_from_the_header(self):
        if not shutil.which(os.environ.get("CC", "cc")):
            self.skipTest("no C preprocessor (cc) to prepare the header for cffi")
        python = python_with_cffi()
        if python is None:
            self.skipTest(f"cffi is installed neither for {sys.executable} nor for "
                          "/usr/bin/python3 (Debian: apt-get install python3-cffi)")
        env = dict(os.environ, ALERTING_LIBRARY=support.LIBRARY,
                   PYTHONPATH=os.path.dirname(os.path.dirname(alerting.__file__)))
        p = subprocess.run([python, os.path.join(HERE, "cffi_smoke.py")], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("cffi smoke: ok", p.stdout)
        self.assertIn(f"{len(alerting._native.STRUCTS)} struct layouts equal", p.stdout)


if __name__ == "__main__":
    unittest.main()
