"""The Cockpit page in a real browser (issue 24, docs/cockpit.md).

cockpit-ws without systemd serves the built page as a member of the
control group and as a user outside it; headless chromium drives it while
the software guest moves frames through vm1-net0.  Everything the page
claims is checked against the API itself.
"""

import json
import subprocess
import time

import pytest
from conftest import AVMCTL, DEVICE, INSTANCE, LOG_DIR
from lib.service_daemon import take_over

TIMEOUT = 30


def wait_for(what, fn, timeout=TIMEOUT, page=None):
    """fn()'s first truthy value; fails with `what` (and the page's error
    alerts) after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            shown = alerts(page, "danger") if page else []
            raise AssertionError(f"timed out waiting for {what}; the page says {shown}")
        time.sleep(0.2)


def avmctl(host, *args):
    r = subprocess.run([str(AVMCTL), "--socket", str(host.daemon.socket), "--json", *args],
                       capture_output=True, text=True)
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else None


def js(page, script, *args):
    return page.driver.execute_script(script, *args)


def text_of(page, selector):
    return js(page, "const e = document.querySelector(arguments[0]); "
                    "return e ? e.textContent : null;", selector)


def click(page, selector):
    wait_for(selector, lambda: js(page, "return !!document.querySelector(arguments[0]);", selector))
    js(page, "document.querySelector(arguments[0]).click();", selector)


def polls(page):
    return int(js(page, "return document.body.dataset.polls || '0';"))


def alerts(page, kind):
    return js(page, "return [...document.querySelectorAll('#alerts .pf-m-' + arguments[0] + "
                    "' .pf-v6-c-alert__title')].map(e => e.textContent);", kind)


@pytest.fixture(scope="module")
def member(host, browser):
    page = browser(host.member)
    page.open()
    wait_for("the first poll", lambda: polls(page) >= 1)
    return page


def test_page_lists_the_instance(host, member):
    row = f'tr[data-instance="{INSTANCE}"]'
    inst = host.rpc("instance.show", name=INSTANCE)
    assert inst["state"] == "ready" and inst["guest"]["pid"] == host.guest.proc.pid, inst
    cells = wait_for("the instance row", lambda: js(
        member, "const r = document.querySelector(arguments[0]); "
                "return r && [...r.cells].map(c => c.textContent);", row))
    assert cells[:6] == [INSTANCE, "ready", str(host.guest.proc.pid), "4 MiB",
                         str(inst["vectors"]), DEVICE], cells
    dev = host.rpc("device.show", name=DEVICE)
    cells = js(member, "return [...document.querySelector(arguments[0]).cells]"
                       ".map(c => c.textContent);", f'tr[data-device="{DEVICE}"]')
    assert cells[:8] == [DEVICE, INSTANCE, "up", dev["mac"], str(dev["mtu"]), dev["tap"],
                         dev["backend"], "open"], cells
    health = js(member, "return Object.fromEntries([...document.querySelectorAll('[data-health]')]"
                        ".map(e => [e.dataset.health, e.textContent]));")
    assert health["Device faults"] == "0" and health["Quarantined now"] == "none", health
    member.screenshot("member-overview")
    assert not member.errors(), member.errors()


def graph_state(page, key):
    return js(page, "return [document.querySelector(arguments[0]).dataset.raw, "
                    "document.querySelector(arguments[1]).toDataURL()];",
              f'[data-value="{DEVICE}/{key}"]', f'[data-graph="{DEVICE}/{key}"]')


def test_graphs_move_with_the_traffic(host, member):
    def moving():
        raw, _ = graph_state(member, "pps")
        return raw and float(raw) > 0
    wait_for("packets/s above 0", moving)
    before = {k: graph_state(member, k) for k in ("pps", "bps", "notify", "irq")}
    start = polls(member)
    wait_for("two more polls", lambda: polls(member) >= start + 2)
    after = {k: graph_state(member, k) for k in ("pps", "bps", "notify", "irq")}
    for key in ("pps", "bps"):
        assert float(after[key][0]) > 0, (key, after[key][0])
        assert after[key][1] != before[key][1], f"graph {key} did not change"
    # the notifications and interrupts per packet are numbers (not "–")
    for key in ("notify", "irq"):
        assert after[key][0] != "" and float(after[key][0]) >= 0, (key, after[key][0])
    member.screenshot("member-graphs")
    assert not member.errors(), member.errors()


def guest_received(host):
    p = host.guest.progress()
    return p[0] + p[1]


def link(host):
    return avmctl(host, "device", "show", DEVICE)[1]["link"]


def test_link_down_and_up_from_the_page(host, member):
    click(member, f'button[data-action="link-down"][data-name="{DEVICE}"]')
    wait_for("avmctl: link down", lambda: link(host) == "down")
    # The guest sees it: its frames stop arriving both ways, and the daemon
    # drops them at the link.
    time.sleep(1.5)
    stalled = guest_received(host)
    time.sleep(2.5)
    assert guest_received(host) == stalled, "frames kept flowing with the link down"
    s = host.rpc("device.show", name=DEVICE)["stats"]
    assert s["tx_dropped_link"] + s["rx_dropped_link"] > 0, s
    wait_for("the page shows link down", lambda: text_of(
        member, f'tr[data-device="{DEVICE}"] td[data-label="Link"]') == "down")
    member.screenshot("member-link-down")
    click(member, f'button[data-action="link-up"][data-name="{DEVICE}"]')
    wait_for("avmctl: link up", lambda: link(host) == "up")
    # The frames dropped while it was down never come: a new guest moves
    # frames again through the same device.
    host.start_guest()
    wait_for("the guest's frames flow again", lambda: guest_received(host) > 100)
    assert not member.errors(), member.errors()


def submit(page, form, **fields):
    js(page, "const f = document.getElementById(arguments[0]); f.reset(); "
             "for (const [k, v] of Object.entries(arguments[1])) f.elements[k].value = v; "
             "f.requestSubmit();", form, fields)


def test_bad_name_is_refused_with_the_api_message(host, member):
    bad = "Bad Name"
    with pytest.raises(Exception) as api:
        host.rpc("instance.create", name=bad)
    message = api.value.message
    submit(member, "instance-form", name=bad)
    shown = wait_for("the error", lambda: [a for a in alerts(member, "danger") if a == message])
    assert shown == [message]
    assert avmctl(host, "instance", "show", bad)[0] == 1
    member.screenshot("member-bad-name")
    assert not member.errors(), member.errors()


# systemctl for the restart test: `restart alacrityvmd.service` asks the test
# to replace the daemon (alacrityvmd --takeover: what the FD store does under
# systemd, docs/handover.md) and returns when it has; anything else fails,
# as without systemd.
FAKE_SYSTEMCTL = """#!/bin/sh
[ "$1" = restart ] || exit 1
echo "$*" >"{dir}/restart.request"
while [ ! -e "{dir}/restart.done" ]; do sleep 0.1; done
"""


def test_restart_from_the_page_keeps_the_guest(host, browser):
    # Before any instance is deleted: take_over() checks that the old
    # daemon's log has no host RESET, which a deleted instance logs.
    bin_dir = host.tmp / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL.format(dir=bin_dir))
    (bin_dir / "systemctl").chmod(0o755)
    page = browser("root", bin_dir)
    page.open()
    wait_for("the first poll", lambda: polls(page) >= 1)
    guest_pid, old_pid = host.guest.proc.pid, host.daemon.proc.pid
    click(page, "#restart")
    request = bin_dir / "restart.request"
    wait_for("systemctl restart", request.exists, page=page)
    assert request.read_text().split() == ["restart", "alacrityvmd.service"]
    before = guest_received(host)
    take_over(host, LOG_DIR / "takeover.alacrityvmd.log", instances=1)
    (bin_dir / "restart.done").touch()
    wait_for("the restart's notice", lambda: [a for a in alerts(page, "success")
                                              if "restarted" in a], page=page)
    assert host.daemon.proc.pid != old_pid
    inst = host.rpc("instance.show", name=INSTANCE)
    assert inst["state"] == "ready" and inst["guest"]["pid"] == guest_pid, inst
    wait_for("the guest's frames after the restart", lambda: guest_received(host) > before + 100)
    assert not host.guest.errors(), host.guest.errors()
    start = polls(page)
    wait_for("polls of the new daemon", lambda: polls(page) >= start + 2, page=page)
    assert text_of(page, f'tr[data-instance="{INSTANCE}"] td[data-label="Guest pid"]') \
        == str(guest_pid)
    page.screenshot("root-after-restart")
    assert not page.errors(), page.errors()


def test_create_and_delete_from_the_page(host, member):
    submit(member, "instance-form", name="web1", region_size="8M")
    wait_for("web1 created", lambda: avmctl(host, "instance", "show", "web1")[0] == 0, page=member)
    assert avmctl(host, "instance", "show", "web1")[1]["region_size"] == 8 << 20
    submit(member, "device-form", name="web1-net0", instance="web1", tap="avmckweb0")
    wait_for("web1-net0 created", lambda: avmctl(host, "device", "show", "web1-net0")[0] == 0,
             page=member)
    assert avmctl(host, "device", "show", "web1-net0")[1]["instance"] == "web1"
    for kind, name in (("device", "web1-net0"), ("instance", "web1")):
        sel = f'button[data-action="delete-{kind}"][data-name="{name}"]'
        click(member, sel)  # asks again
        wait_for("the confirmation", lambda: text_of(member, sel) == "Really delete?")
        click(member, sel)
        wait_for(f"{name} deleted", lambda: avmctl(host, kind, "show", name)[0] == 1)
    assert not member.errors(), member.errors()


def test_outsider_is_not_permitted(host, browser):
    page = browser(host.outsider)
    page.open()
    denied = wait_for("the not-permitted notice", lambda: js(
        page, "const d = document.getElementById('denied'); "
              "return d && !d.hidden && d.textContent;"))
    assert "Not permitted" in denied and "alacrityvm group" in denied, denied
    assert js(page, "return document.getElementById('content').hidden;")
    page.screenshot("outsider-not-permitted")
    assert not page.errors(), page.errors()
