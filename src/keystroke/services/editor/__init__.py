"""The editor side: what the language server (and the playground) does between a keystroke and a shown
suggestion. `EditorService` is the facade (`service.py`); its rooms are the documents, the generations in
flight, and the stats it reports."""

from keystroke.services.editor.documents import Document
from keystroke.services.editor.service import EditorClock, EditorService, SystemClock
from keystroke.services.editor.stats import EditorStats, Suggestion

__all__ = ["Document", "EditorClock", "EditorService", "EditorStats", "Suggestion", "SystemClock"]
