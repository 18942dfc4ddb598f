"""Run Home Assistant with this integration, against the simulators or the real Enphase cloud.

`scripts/develop` runs this module; the browser test (tests/e2e) uses its pieces, so a developer
and the test start Home Assistant the same way:

- configuration.yaml names the few integrations the UI needs instead of `default_config`, which
  pulls in integrations (bluetooth, zeroconf, ...) whose requirements the locked environment
  lacks. Home Assistant runs with --skip-pip so it never installs anything into that environment;
  `check_requirements` says beforehand what it would lack.
- The HTTP server's address is put in `.storage/http`: since 2026.10 Home Assistant keeps it
  there, and turns a YAML `http:` section into a trial that reverts itself (to every interface,
  port 8123) five minutes later unless someone confirms it in the UI. It is bound to 127.0.0.1.
  Older releases (2026.3, the minimum track) read it from YAML only: for those the address goes
  to `http.yaml`, which configuration.yaml includes.
- The simulator runs with --my-redirect, so its login page sends the browser back to this Home
  Assistant as My Home Assistant would, and LIVEONE_ENPHASE_DEV_CLOUD points new config flows at
  it (the integration accepts only loopback URLs there).
"""

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, Final

from packaging.requirements import Requirement

ROOT: Final = Path(__file__).resolve().parents[1]
HOST: Final = "127.0.0.1"
# The integration's domain and its development switch (const.DOMAIN, cloud.DEV_CLOUD_ENV),
# spelled out: importing the integration package would load much of Home Assistant first.
DOMAIN: Final = "liveone_enphase"
DEV_CLOUD_ENV: Final = "LIVEONE_ENPHASE_DEV_CLOUD"

# What the UI needs on top of what Home Assistant always loads: the frontend, the settings
# panels, My Home Assistant's OAuth redirect, and history and energy to look at the sensors.
UI_INTEGRATIONS: Final = ("frontend", "config", "my", "history", "energy")

# Imported by Home Assistant's service helper whatever the configuration (HA 2026.3 reaches them
# only that way, not through any manifest's dependencies), so their requirements are needed too.
SERVICE_HELPER_INTEGRATIONS: Final = ("ai_task", "assist_satellite", "camera")

CONFIGURATION_YAML: Final = f"""\
# Written by scripts/devstack.py. Not `default_config`: it pulls in integrations whose
# requirements the project's locked environment does not have. The HTTP server is configured
# in .storage/http (see scripts/devstack.py), not here.
{"".join(f"{domain}:\n" for domain in UI_INTEGRATIONS)}
logger:
  default: info
  logs:
    custom_components.{DOMAIN}: debug
"""

# For releases that read the HTTP server's address from YAML only (see `_bind_http`).
HTTP_YAML: Final = "http.yaml"
HTTP_INCLUDE: Final = f"http: !include {HTTP_YAML}\n"

# How long Home Assistant gets to stop cleanly before it is killed.
STOP_TIMEOUT_S: Final = 30.0


class StackError(RuntimeError):
    """A process of the stack did not start."""


@dataclass(frozen=True, slots=True)
class Simulator:
    """A running `python -m sim serve` and what it announced (URLs and demo credentials)."""

    process: subprocess.Popen[bytes]
    info: dict[str, Any]

    @property
    def enphase_url(self) -> str:
        """The simulated Enphase cloud's base URL."""
        return str(self.info["enphase_base_url"])


def prepare_config(config_dir: Path, port: int, *, rewrite_configuration: bool) -> None:
    """Make `config_dir` a Home Assistant configuration serving on 127.0.0.1:`port`.

    A developer's configuration.yaml is kept unless `rewrite_configuration`; the integration is
    linked in, not copied, so edits take effect at the next start.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    link = config_dir / "custom_components"
    if link.is_symlink() or not link.exists():
        link.unlink(missing_ok=True)
        link.symlink_to(ROOT / "custom_components", target_is_directory=True)
    configuration = config_dir / "configuration.yaml"
    if rewrite_configuration or not configuration.exists():
        configuration.write_text(CONFIGURATION_YAML, encoding="utf-8")
    _bind_http(config_dir, port)


def _http_settings_are_stored() -> bool:
    """Whether this Home Assistant keeps the HTTP settings in `.storage/http` (2026.10 on).

    Asked of the installed package (the module that loads the stored settings), not of its
    version number.
    """
    return importlib.util.find_spec("homeassistant.components.http.config") is not None


def _bind_http(config_dir: Path, port: int) -> None:
    """Give the HTTP server our address, where the installed Home Assistant reads it.

    Written before every start, so the port asked for is the port used. Newer releases get the
    version-1 `.storage/http` they migrate themselves (filling in the other settings with their
    defaults); older ones an included `http.yaml`, the include added to a configuration.yaml
    that has no `http:` section of its own.
    """
    if not _http_settings_are_stored():
        (config_dir / HTTP_YAML).write_text(
            f"server_host: {HOST}\nserver_port: {port}\n", encoding="utf-8"
        )
        configuration = config_dir / "configuration.yaml"
        text = configuration.read_text(encoding="utf-8")
        if not any(line.startswith("http:") for line in text.splitlines()):
            configuration.write_text(f"{text.rstrip()}\n\n{HTTP_INCLUDE}", encoding="utf-8")
        return
    storage = config_dir / ".storage"
    storage.mkdir(exist_ok=True)
    stored = {
        "version": 1,
        "minor_version": 1,
        "key": "http",
        "data": {"server_host": [HOST], "server_port": port},
    }
    (storage / "http").write_text(json.dumps(stored, indent=2), encoding="utf-8")


def check_requirements() -> None:
    """Fail unless the integrations Home Assistant will load have their requirements installed.

    Home Assistant would install them at start-up; with --skip-pip it runs without them, and
    without some (the frontend, conversation) the UI never gets past "Loading".
    """
    from homeassistant import bootstrap  # noqa: PLC0415 - heavy, and only needed here
    from homeassistant import components as ha_components  # noqa: PLC0415

    components = Path(ha_components.__file__).parent
    manifests = {DOMAIN: ROOT / "custom_components" / DOMAIN / "manifest.json"}
    pending = [
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *UI_INTEGRATIONS,
        *SERVICE_HELPER_INTEGRATIONS,
    ]
    pending.append(DOMAIN)
    seen: set[str] = set()
    missing: set[str] = set()
    while pending:
        domain = pending.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = manifests.get(domain, components / domain / "manifest.json")
        data = json.loads(manifest.read_text(encoding="utf-8"))
        missing.update(_not_installed(data.get("requirements", [])))
        pending.extend(data.get("dependencies", []))
    if missing:
        raise StackError(
            "Home Assistant needs these packages, which are not installed (the project's test "
            f"dependency group should pin them): {', '.join(sorted(missing))}"
        )


def _not_installed(requirements: Iterable[str]) -> Iterator[str]:
    for requirement in requirements:
        try:
            importlib.metadata.version(Requirement(requirement).name)
        except importlib.metadata.PackageNotFoundError:
            yield requirement


@contextlib.contextmanager
def simulator(
    ha_url: str, *, port: int = 0, stderr: IO[bytes] | None = None, timeout: float = 30.0
) -> Iterator[Simulator]:
    """Run the simulators until the block ends; `port` 0 picks a free one for the cloud."""
    command = [sys.executable, "-m", "sim", "serve", "--host", HOST, "--port", str(port)]
    command += ["--my-redirect", ha_url]
    process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr
    )
    try:
        yield Simulator(process, _announcement(process, timeout))
    finally:
        stop(process)


def _announcement(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """Read the simulator's one JSON line, without hanging if it never comes."""
    line = b""
    if process.stdout is not None and select.select([process.stdout], [], [], timeout)[0]:
        line = process.stdout.readline()
    if not line:
        raise StackError(
            f"the simulator did not announce itself within {timeout:.0f} s "
            f"(exit code {process.poll()})"
        )
    info: dict[str, Any] = json.loads(line)
    return info


@contextlib.contextmanager
def home_assistant(
    config_dir: Path, *, dev_cloud: str | None, output: IO[bytes] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `hass` on `config_dir` until the block ends.

    `dev_cloud` is the simulated cloud's URL, or None for Enphase's own (an inherited switch is
    then removed, so --real means real).
    """
    env = dict(os.environ)
    env.pop(DEV_CLOUD_ENV, None)
    if dev_cloud is not None:
        env[DEV_CLOUD_ENV] = dev_cloud
    command = [sys.executable, "-m", "homeassistant", "--config", str(config_dir), "--skip-pip"]
    process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        command, cwd=ROOT, env=env, stdout=output, stderr=output
    )
    try:
        yield process
    finally:
        stop(process)


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll `url` until it answers 200; fail early if `process` (the server) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"Home Assistant exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our URL
                if response.status == 200:
                    return
        except urllib.error.URLError, ConnectionError, TimeoutError:
            pass
        time.sleep(0.2)
    raise StackError(f"Home Assistant did not answer {url} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """Ask a process to stop (SIGTERM), and kill it if it has not within `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def banner(ha_url: str, sim: Simulator | None) -> str:
    """Say what to open, and (with the simulator) which demo credentials to enter."""
    steps = (
        f"Open {ha_url}, finish onboarding, then Settings -> Devices & services -> "
        "Add integration -> LiveOne Enphase."
    )
    if sim is None:
        return f"\n{steps}\nUse your own Enphase application's client ID, secret and API key.\n"
    info = sim.info
    return f"""
Simulated Enphase cloud: {sim.enphase_url}   LiveOne receiver: {info.get("liveone_url", "-")}
{steps}
  Application credentials  client id: {info["client_id"]}
                           client secret: {info["client_secret"]}
  Enphase API key:         {info["api_key"]}
  LiveOne (options)        site id: {info.get("liveone_site_id", "-")}  \
key: {info.get("liveone_api_key", "-")}
These are the simulator's fixed demo values, not real secrets.
"""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM and SIGHUP like Ctrl-C, so the processes started are stopped too."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stack in the foreground until Home Assistant stops, Ctrl-C or SIGTERM."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    parser = argparse.ArgumentParser(
        prog="scripts/develop", description="Run Home Assistant with this integration."
    )
    parser.add_argument("--real", action="store_true", help="use the real Enphase cloud")
    args = parser.parse_args(argv)
    ha_port = int(os.environ.get("HA_PORT", "8123"))
    ha_url = f"http://{HOST}:{ha_port}"
    config_dir = ROOT / "config"
    prepare_config(config_dir, ha_port, rewrite_configuration=False)
    with contextlib.ExitStack() as stack:
        try:
            sim = None
            if not args.real:
                sim_port = int(os.environ.get("SIM_PORT", "8400"))
                sim = stack.enter_context(simulator(ha_url, port=sim_port))
            hass = stack.enter_context(
                home_assistant(config_dir, dev_cloud=sim.enphase_url if sim else None)
            )
            check_requirements()  # while Home Assistant starts: it takes seconds too
            wait_until_serving(f"{ha_url}/manifest.json", hass, timeout=300)
            print(banner(ha_url, sim), flush=True)
            return hass.wait()
        except KeyboardInterrupt:
            return 130
        except StackError as err:
            print(f"develop: {err}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
