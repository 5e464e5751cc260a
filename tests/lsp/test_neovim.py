"""A real editor: headless Neovim asks `keystroke lsp` for completion lists through its built-in client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model
SCRIPT = Path(__file__).with_name("nvim_completion.lua")
CODE = "import os\n\n\ndef add(a, b):\n    return os.pa\n\n\ndef twice(x):\n    return \n"


@pytest.mark.skipif(shutil.which("nvim") is None, reason="Neovim is not installed (Debian package `neovim`)")
def test_neovim_gets_local_items_and_the_models_suggestion(tmp_path: Path) -> None:
    source = tmp_path / "calc.py"
    source.write_text(CODE)
    out = tmp_path / "answers.json"
    command = [sys.executable, "-m", "keystroke", "lsp", "--embedded", "--threads", "2", "--workspace", str(tmp_path)]
    env = {
        **os.environ,
        "KS_CMD": json.dumps(command),
        "KS_ROOT": str(tmp_path),
        "KS_FILE": str(source),
        "KS_CURSORS": json.dumps([[5, len("    return os.pa")], [9, len("    return ")]]),
        "KS_OUT": str(out),
        "KEYSTROKE_EDITOR__COMPLETION_WAIT_MS": "60000",  # a cold first prompt may take seconds on a busy CI box
        "KEYSTROKE_EDITOR__JEDI_BUDGET_MS": "10000",
    }
    run = subprocess.run(
        ["nvim", "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {SCRIPT}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert out.exists(), f"Neovim wrote no answers (exit {run.returncode}): {run.stderr[-2000:]}"
    report = json.loads(out.read_text())
    assert report["ready"], "the language server never finished initializing"
    member, fresh = report["answers"]
    assert "path" in member["labels"]  # Jedi: os.path, replacing the typed "pa"
    assert member["edits"][member["labels"].index("path")] == "path"
    assert fresh["labels"], "no completion item at the end of `return `"
    assert fresh["edits"][0].strip()  # the model's suggestion comes first
