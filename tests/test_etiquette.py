"""Library etiquette: importing aire or writing a run changes no global state of the user's session,
and the command line starts without torch or matplotlib."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_help_needs_neither_torch_nor_matplotlib():
    out = _python("""
        import sys
        import aire.cli
        aire.cli.build_parser().format_help()
        print('torch' in sys.modules, 'matplotlib' in sys.modules)
    """)
    assert out == "False False"


def test_a_fit_and_its_report_leave_matplotlib_alone(tmp_path):
    out = _python(f"""
        import matplotlib
        matplotlib.use("pdf")
        import matplotlib.pyplot as plt
        import aire
        from aire.signals.image import ImageSignal, synthetic_image
        signal = ImageSignal(image=synthetic_image(12))
        net = aire.build_network(signal, [8, 8])
        result = aire.fit(signal, net, steps=5, eval_every=5, progress=False)
        aire.save_run(result, signal, {str(tmp_path / 'run')!r})
        print(matplotlib.get_backend(), len(plt.get_fignums()))
    """)
    assert out == "pdf 0"
    assert (tmp_path / "run" / "training.png").stat().st_size > 1000
