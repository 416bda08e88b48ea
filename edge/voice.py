"""The display board's voice: "Mời số A012 đến quầy số 2" spoken by espeak-ng's Vietnamese voice, on the box.

Nothing goes to the Internet: espeak-ng (a Debian package) writes a WAV file, kept in the data
dir's cache under a name made from the text, so each call is synthesised once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from edge.errors import EdgeError

SPEED_WPM = 135  # a little slower than espeak's default: a hall with people talking


class VoiceUnavailable(EdgeError):
    """The box cannot speak: espeak-ng is missing or failed."""

    status = 503
    default_code = "voice_unavailable"


def speak_to_wav(cache_dir: Path, text: str) -> Path:
    """Return a WAV file of the text spoken in Vietnamese (made once, then taken from the cache)."""
    path = cache_dir / (hashlib.sha256(text.encode("utf-8")).hexdigest()[:24] + ".wav")
    if path.is_file():
        return path
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise VoiceUnavailable(
            "Máy chưa cài espeak-ng nên không đọc được số gọi (apt-get install espeak-ng).",
            "espeak-ng is not installed, so calls cannot be spoken (apt-get install espeak-ng).",
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        subprocess.run(
            [espeak, "-v", "vi", "-s", str(SPEED_WPM), "-w", str(tmp), text],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        os.replace(tmp, path)
    except (OSError, subprocess.SubprocessError) as err:
        tmp.unlink(missing_ok=True)
        raise VoiceUnavailable(
            f"espeak-ng không tạo được âm thanh: {err}.", f"espeak-ng could not make the sound: {err}."
        ) from err
    return path
