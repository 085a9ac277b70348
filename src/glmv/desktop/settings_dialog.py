"""The settings dialog: engine and endpoint, sampling, thinking, history turns, hotkeys, recording caps, theme.

It edits a :class:`~glmv.desktop.config.DesktopSettings` and gives back a new one (:meth:`SettingsDialog.result_settings`);
saving and applying are the window's job. A change of engine or model takes effect at the next start.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from glmv.desktop.config import DEFAULT_HOTKEYS, DesktopSettings
from glmv.desktop.credentials import key_storage
from glmv.desktop.hotkeys import global_hotkeys_unavailable

__all__ = ["SettingsDialog"]


def _spin(value: float | None, low: float, high: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low - step, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setSpecialValueText("model default")
    box.setValue(low - step if value is None else value)
    return box


def _int_spin(value: int | None, low: int, high: int, unset: bool = False) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low - 1 if unset else low, high)
    if unset:
        box.setSpecialValueText("model default")
    box.setValue(low - 1 if value is None else value)
    return box


class SettingsDialog(QDialog):
    """Edit ``settings``; after ``exec()`` accepted, :meth:`result_settings` is the edited copy."""

    def __init__(self, settings: DesktopSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("glmv desktop settings")
        self.settings = settings
        tabs = QTabWidget()
        tabs.addTab(self._model_tab(settings), "Model")
        tabs.addTab(self._sampling_tab(settings), "Sampling")
        tabs.addTab(self._hotkeys_tab(settings), "Hotkeys")
        tabs.addTab(self._recording_tab(settings), "Recording")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)

    def _model_tab(self, s: DesktopSettings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.engine = QComboBox()
        self.engine.addItems(["local", "api"])
        self.engine.setCurrentText(s.engine)
        self.model = QLineEdit(s.model)
        self.api_url = QLineEdit(s.api_url)
        self.api_url.setPlaceholderText("http://127.0.0.1:8000/v1")
        self.api_key = QLineEdit(s.api_key)
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_storage = QLabel(f"The key is kept in {key_storage()}.")
        self.key_storage.setWordWrap(True)
        self.system_prompt = QLineEdit(s.system_prompt)
        self.theme = QComboBox()
        self.theme.addItems(["system", "light", "dark"])
        self.theme.setCurrentText(s.theme)
        for label, widget in (
            ("Engine", self.engine),
            ("Model", self.model),
            ("API URL", self.api_url),
            ("API key", self.api_key),
            ("", self.key_storage),
            ("System prompt", self.system_prompt),
            ("Theme", self.theme),
        ):
            form.addRow(label, widget)
        return page

    def _sampling_tab(self, s: DesktopSettings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.max_tokens = _int_spin(s.max_tokens, 1, 131072)
        self.temperature = _spin(s.temperature, 0.0, 2.0, 0.05)
        self.top_p = _spin(s.top_p, 0.01, 1.0, 0.05)
        self.top_k = _int_spin(s.top_k, 1, 1000, unset=True)
        self.repetition_penalty = _spin(s.repetition_penalty, 0.5, 2.0, 0.05)
        self.thinking = QComboBox()
        self.thinking.addItems(["model default", "on", "off"])
        self.thinking.setCurrentIndex({None: 0, True: 1, False: 2}[s.enable_thinking])
        self.budget = _int_spin(s.thinking_budget, 0, 131072, unset=True)
        self.thinking_open = QCheckBox("Show the thinking section open")
        self.thinking_open.setChecked(s.thinking_open)
        self.history_turns = _int_spin(s.history_turns, 0, 100)
        for label, widget in (
            ("Max tokens", self.max_tokens),
            ("Temperature", self.temperature),
            ("Top p", self.top_p),
            ("Top k", self.top_k),
            ("Repetition penalty", self.repetition_penalty),
            ("Thinking", self.thinking),
            ("Thinking budget", self.budget),
            ("", self.thinking_open),
            ("History turns sent", self.history_turns),
        ):
            form.addRow(label, widget)
        return page

    def _hotkeys_tab(self, s: DesktopSettings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.hotkeys: dict[str, QKeySequenceEdit] = {}
        unavailable = global_hotkeys_unavailable()
        self.hotkeys_scope = QLabel(
            f"Global hotkeys are not available: {unavailable}."
            if unavailable
            else "These keys work whichever window has the focus (and in the assistant's windows)."
        )
        self.hotkeys_scope.setWordWrap(True)
        form.addRow(self.hotkeys_scope)
        for action in DEFAULT_HOTKEYS:
            edit = QKeySequenceEdit(s.hotkey(action))
            self.hotkeys[action] = edit
            form.addRow(action.replace("_", " ").capitalize(), edit)
        return page

    def _recording_tab(self, s: DesktopSettings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.record_fps = _int_spin(s.record_fps, 1, 30)
        self.record_max_seconds = _int_spin(s.record_max_seconds, 1, 3600)
        self.record_max_width = _int_spin(s.record_max_width, 64, 7680)
        self.record_max_height = _int_spin(s.record_max_height, 64, 4320)
        form.addRow("Frames per second", self.record_fps)
        form.addRow("Longest recording (s)", self.record_max_seconds)
        form.addRow("Largest width", self.record_max_width)
        form.addRow("Largest height", self.record_max_height)
        return page

    def result_settings(self) -> DesktopSettings:
        def value(box: QDoubleSpinBox | QSpinBox) -> float | int | None:
            return None if box.value() == box.minimum() and box.specialValueText() else box.value()

        return self.settings.with_(
            engine=self.engine.currentText(),
            model=self.model.text().strip() or self.settings.model,
            api_url=self.api_url.text().strip(),
            api_key=self.api_key.text().strip(),
            system_prompt=self.system_prompt.text(),
            theme=self.theme.currentText(),
            max_tokens=self.max_tokens.value(),
            temperature=value(self.temperature),
            top_p=value(self.top_p),
            top_k=value(self.top_k),
            repetition_penalty=value(self.repetition_penalty),
            enable_thinking=[None, True, False][self.thinking.currentIndex()],
            thinking_budget=value(self.budget),
            thinking_open=self.thinking_open.isChecked(),
            history_turns=self.history_turns.value(),
            hotkeys={
                action: edit.keySequence().toString() or DEFAULT_HOTKEYS[action]
                for action, edit in self.hotkeys.items()
            },
            record_fps=self.record_fps.value(),
            record_max_seconds=self.record_max_seconds.value(),
            record_max_width=self.record_max_width.value(),
            record_max_height=self.record_max_height.value(),
        )
