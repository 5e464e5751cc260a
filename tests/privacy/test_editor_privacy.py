"""The editor side: what leaves is redacted, `.keystrokeignore` keeps a file local, the gateway's policy applies."""

from __future__ import annotations

from pathlib import Path

from keystroke.benchmarks.secrets_corpus import corpus
from keystroke.domain.context.walker import keystroke_ignored
from keystroke.services.completion import CompletionService
from tests.editor.test_editor_service import Rig, scenario, settle


def test_the_request_that_leaves_the_editor_is_redacted_and_the_document_is_not(service: CompletionService) -> None:
    planted = corpus(per_format=1, seed=21)
    before = "\n".join(p.code for p in planted[:8]) + "\ndef pay():\n    return "
    after = "\n" + "\n".join(p.code for p in planted[8:])

    async def body(rig: Rig) -> None:
        rig.open(before + after)
        rig.lane.release(all_later=True)
        await rig.answered((before.count("\n"), len("    return ")), len(before))
        sent = rig.lane.started[0]
        for secret in planted:
            assert secret.secret not in sent.prefix + sent.suffix
        assert "<SECRET_1>" in sent.prefix
        assert "def pay():" in sent.prefix
        document = rig.editor.document("file:///ws/calc.py")
        assert document is not None
        assert planted[0].secret in document.text  # the user's own text is untouched

    scenario(service, body)


def test_keystrokeignore_keeps_the_current_file_on_this_machine(service: CompletionService, tmp_path: Path) -> None:
    (tmp_path / ".keystrokeignore").write_text("private/\n*.secret.py\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".keystrokeignore").write_text("local_only.py\n")
    assert keystroke_ignored(tmp_path, "private/x.py")
    assert keystroke_ignored(tmp_path, "a/b/keys.secret.py")
    assert keystroke_ignored(tmp_path, "app/local_only.py")
    assert not keystroke_ignored(tmp_path, "local_only.py")  # the nested file governs its own folder only
    assert not keystroke_ignored(tmp_path, "app/main.py")

    async def body(rig: Rig) -> None:
        rig.editor.root = tmp_path
        uri = (tmp_path / "private" / "x.py").as_uri()
        rig.open("total = 1\ntot", uri=uri, path=str(tmp_path / "private" / "x.py"))
        rig.lane.release(all_later=True)
        task = rig.ask(uri)
        await settle()
        await rig.clock.advance(1.0)
        await task
        assert rig.lane.started == []  # nothing went upstream
        assert (("local", "file excluded from upload"), 1) in rig.editor.stats.routes.items()

    scenario(service, body)
