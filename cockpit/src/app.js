// SPDX-License-Identifier: GPL-2.0-or-later
// The AlacrityVM page: instances, devices, live traffic graphs and the
// daemon's health from the control API, every POLL_MS; link up/down,
// create/delete, restart.  Every call is avmctl's (avmctl.js), so what the
// page may do is what the logged-in user may do on the control socket.
/* global cockpit */
import { avmctl } from "./avmctl.js";
import { Series, draw, perPacket, rate } from "./graph.js";

const POLL_MS = 2000;
const SERVICE = "alacrityvmd.service";

// Graphs per device: [key, title, unit]; values come from sample().
const GRAPHS = [
    ["pps", "Packets/s", ""],
    ["bps", "Bytes/s", "B"],
    ["notify", "Notifications per packet", ""],
    ["irq", "Interrupts per packet", ""],
];

const series = new Map(); // "device/key" -> Series
const confirming = new Set(); // "kind/name" whose delete button asks again
let previous = null; // {t, devices: {name: counters}, instances: {name: counters}}

function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
        if (k === "class")
            el.className = v;
        else if (k.startsWith("on"))
            el.addEventListener(k.slice(2), v);
        else if (v !== null && v !== undefined && v !== false)
            el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
        if (c !== null && c !== undefined)
            el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
}

function td(label, ...children) {
    return h("td", { class: "pf-v6-c-table__td", "data-label": label }, ...children);
}

function pfLabel(text, color) {
    return h("span", { class: `pf-v6-c-label pf-m-compact pf-m-${color}` },
             h("span", { class: "pf-v6-c-label__content" },
               h("span", { class: "pf-v6-c-label__text" }, text)));
}

function button(text, variant, onclick, attrs = {}) {
    return h("button", { class: `pf-v6-c-button pf-m-small pf-m-${variant}`, type: "button", onclick, ...attrs },
             h("span", { class: "pf-v6-c-button__text" }, text));
}

function alert(kind, message) {
    const el = h("div", { class: `pf-v6-c-alert pf-m-inline pf-m-${kind}`, role: "alert" },
                 h("p", { class: "pf-v6-c-alert__title" }, message),
                 h("div", { class: "pf-v6-c-alert__action" },
                   button("Close", "plain", () => el.remove())));
    document.getElementById("alerts").append(el);
    if (kind !== "danger")
        setTimeout(() => el.remove(), 5000);
}

export function formatNumber(v, unit = "") {
    if (v === null || v === undefined)
        return "–";
    const prefixes = ["", "k", "M", "G", "T"];
    let i = 0;
    while (Math.abs(v) >= 1000 && i < prefixes.length - 1) {
        v /= 1000;
        i++;
    }
    const digits = v === 0 || Math.abs(v) >= 100 || (i === 0 && Number.isInteger(v)) ? 0 : 2;
    return `${v.toFixed(digits)} ${prefixes[i]}${unit}`.trim();
}

function formatSize(bytes) {
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) {
        bytes /= 1024;
        i++;
    }
    return `${bytes} ${units[i]}`;
}

function formatDuration(s) {
    const d = Math.floor(s / 86400);
    const hh = Math.floor((s % 86400) / 3600);
    const mm = Math.floor((s % 3600) / 60);
    return (d ? `${d} d ` : "") + `${hh} h ${mm} min ${Math.floor(s % 60)} s`;
}

// Runs an action; an error is shown in the API's own words.
async function act(what, ...args) {
    let ok = false;
    try {
        await avmctl(...args);
        alert("success", what);
        ok = true;
    } catch (e) {
        alert("danger", e.message);
    }
    refresh();
    return ok;
}

function deleteButton(kind, name) {
    const key = `${kind}/${name}`;
    const asking = confirming.has(key);
    return button(asking ? "Really delete?" : "Delete", asking ? "danger" : "secondary", () => {
        if (!confirming.has(key)) {
            confirming.add(key);
            setTimeout(() => confirming.delete(key), 10000);
            refresh();
            return;
        }
        confirming.delete(key);
        act(`${kind} ${name} deleted`, kind, "delete", "--", name);
    }, { "data-action": `delete-${kind}`, "data-name": name });
}

const STATE_COLOR = { ready: "green", connected: "blue", waiting: "grey" };

function renderInstances(instances) {
    const body = document.querySelector("#instances tbody");
    body.replaceChildren(...instances.map(i => h("tr", { class: "pf-v6-c-table__tr", "data-instance": i.name },
        td("Name", i.name),
        td("State", pfLabel(i.state, STATE_COLOR[i.state] || "orange")),
        td("Guest pid", i.guest ? (i.guest.pid ?? "?") : "–"),
        td("Region", formatSize(i.region_size)),
        td("Vectors", i.vectors),
        td("Devices", i.devices.join(", ") || "–"),
        td("Origin", i.origin),
        td("", i.origin === "api" ? deleteButton("instance", i.name) : null))));
}

function renderDevices(devices) {
    const body = document.querySelector("#devices tbody");
    body.replaceChildren(...devices.map(d => {
        const up = d.link === "up";
        return h("tr", { class: "pf-v6-c-table__tr", "data-device": d.name },
                 td("Name", d.name),
                 td("Instance", d.instance ?? "–"),
                 td("Link", pfLabel(d.link, up ? "green" : "red"),
                    d.quarantined ? pfLabel("quarantined", "orange") : null),
                 td("MAC", d.mac),
                 td("MTU", d.mtu),
                 td("TAP", d.tap),
                 td("Backend", d.backend),
                 td("Guest", d.guest_open ? "open" : "closed"),
                 td("", button(up ? "Link down" : "Link up", "secondary",
                               () => act(`${d.name}: link ${up ? "down" : "up"}`,
                                         "link", "--", d.name, up ? "down" : "up"),
                               { "data-action": up ? "link-down" : "link-up", "data-name": d.name }),
                    " ", d.origin === "api" ? deleteButton("device", d.name) : null));
    }));
}

// Counters of one stats poll: per device and per instance.
function sample(stats) {
    const devices = {};
    const instances = {};
    for (const [iname, s] of Object.entries(stats.instances)) {
        let packets = 0;
        for (const [dname, d] of Object.entries(s.devices)) {
            const p = d.tx_packets + d.rx_packets;
            packets += p;
            devices[dname] = {
                instance: iname,
                packets: p,
                bytes: d.tx_bytes + d.rx_bytes,
                notifications: d.doorbells + d.tx_signals + d.rx_signals,
            };
        }
        instances[iname] = { packets, interrupts: s.bridge.evq_interrupts };
    }
    return { t: Date.now(), devices, instances };
}

function seriesOf(device, key) {
    const k = `${device}/${key}`;
    if (!series.has(k))
        series.set(k, new Series());
    return series.get(k);
}

function graphCard(device, instance) {
    return h("div", { class: "avm-graphs", "data-graphs": device },
             h("h3", { class: "pf-v6-c-title pf-m-md" }, `${device} (${instance})`),
             h("div", { class: "avm-graph-row" }, GRAPHS.map(([key, title]) =>
                 h("figure", { class: "avm-graph" },
                   h("figcaption", {}, title, ": ",
                     h("span", { class: "avm-value", "data-value": `${device}/${key}` }, "–")),
                   h("canvas", { width: 320, height: 80, "data-graph": `${device}/${key}` })))));
}

function updateGraphs(now) {
    const box = document.getElementById("graphs");
    const names = Object.keys(now.devices).sort();
    const shown = [...box.children].map(c => c.dataset.graphs);
    if (shown.join() !== names.join())
        box.replaceChildren(...names.map(n => graphCard(n, now.devices[n].instance)));
    if (!names.length)
        box.replaceChildren(h("p", { class: "avm-muted" }, "No device is attached to an instance."));
    const before = previous;
    previous = now;
    if (!before)
        return;
    const dt = (now.t - before.t) / 1000;
    for (const name of names) {
        const cur = now.devices[name];
        const old = before.devices[name] || {};
        const inst = now.instances[cur.instance];
        const oldInst = before.instances[cur.instance] || {};
        const packets = cur.packets - old.packets;
        const instPackets = inst.packets - oldInst.packets;
        const values = {
            pps: rate(cur.packets, old.packets, dt),
            bps: rate(cur.bytes, old.bytes, dt),
            notify: packets >= 0 ? perPacket(cur.notifications - old.notifications, packets) : null,
            irq: instPackets >= 0 ? perPacket(inst.interrupts - oldInst.interrupts, instPackets) : null,
        };
        for (const [key, , unit] of GRAPHS) {
            const s = seriesOf(name, key);
            const v = values[key];
            if (v !== null && !Number.isNaN(v))
                s.push(now.t, v);
            const text = document.querySelector(`[data-value="${name}/${key}"]`);
            text.textContent = formatNumber(s.last(), unit);
            text.dataset.raw = String(s.last() ?? "");
            draw(document.querySelector(`[data-graph="${name}/${key}"]`), s, now.t);
        }
    }
}

// Uptime and restarts of the service from systemd; without systemd (a
// daemon started by hand), the uptime of the one alacrityvmd process.
async function serviceInfo() {
    try {
        const out = await cockpit.spawn(["systemctl", "show", "--property=ActiveState,ActiveEnterTimestampMonotonic,NRestarts", SERVICE],
                                        { err: "ignore" });
        const p = Object.fromEntries(out.trim().split("\n").map(l => l.split("=", 2)));
        if (p.ActiveState === "active") {
            const up = await cockpit.spawn(["cat", "/proc/uptime"], { err: "ignore" });
            const since = Number(p.ActiveEnterTimestampMonotonic) / 1e6;
            return { uptime: Number(up.split(" ")[0]) - since, restarts: Number(p.NRestarts) };
        }
    } catch (e) {
        // no systemd: fall through
    }
    try {
        const out = await cockpit.spawn(["ps", "-o", "etimes=", "-C", "alacrityvmd"], { err: "ignore" });
        const times = out.trim().split(/\s+/).filter(Boolean);
        if (times.length === 1)
            return { uptime: Number(times[0]), restarts: null };
    } catch (e) {
        // no such process (or several): unknown
    }
    return { uptime: null, restarts: null };
}

function renderHealth(stats, devices, service) {
    const bridges = Object.values(stats.instances).map(s => s.bridge);
    const sum = key => bridges.reduce((n, b) => n + (b[key] || 0), 0);
    const quarantined = devices.filter(d => d.quarantined).map(d => d.name);
    const rows = [
        ["Uptime", service.uptime === null ? "unknown" : formatDuration(Math.max(0, service.uptime))],
        ["Service restarts", service.restarts ?? "unknown (not under systemd)"],
        ["Host restarts of the bridges", sum("restarts")],
        ["Device faults", sum("device_faults")],
        ["Quarantined now", quarantined.length ? quarantined.join(", ") : "none"],
        ["Guest resets", sum("guest_resets")],
        ["Malformed guest states", sum("bad_guest_state") + sum("stale_inits")],
        ["Events dropped", sum("evq_overflows") + sum("evq_bad_consumed")],
    ];
    document.getElementById("health").replaceChildren(...rows.map(([term, value]) =>
        h("div", { class: "pf-v6-c-description-list__group" },
          h("dt", { class: "pf-v6-c-description-list__term" },
            h("span", { class: "pf-v6-c-description-list__text" }, term)),
          h("dd", { class: "pf-v6-c-description-list__description" },
            h("div", { class: "pf-v6-c-description-list__text", "data-health": term }, String(value))))));
}

function showDenied(message) {
    document.getElementById("content").hidden = true;
    document.getElementById("restart").hidden = true;
    document.getElementById("denied").hidden = false;
    document.getElementById("denied-text").textContent = message;
}

let unreachable = null;
let polling = false;

async function refresh() {
    if (polling)
        return;
    polling = true;
    try {
        const [inst, dev, stats] = await Promise.all([
            avmctl("instance", "list"), avmctl("device", "list"), avmctl("stats")]);
        unreachable?.remove();
        unreachable = null;
        document.getElementById("denied").hidden = true;
        document.getElementById("content").hidden = false;
        renderInstances(inst.instances);
        renderDevices(dev.devices);
        updateGraphs(sample(stats));
        renderHealth(stats, dev.devices, await serviceInfo());
        document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    } catch (e) {
        if (e.kind === "permission") {
            showDenied(e.message);
        } else if (!unreachable) {
            alert("danger", e.message);
            unreachable = document.getElementById("alerts").lastElementChild;
        }
    } finally {
        polling = false;
    }
}

function formArgs(form, options) {
    const data = new FormData(form);
    const args = [];
    for (const opt of options) {
        const v = String(data.get(opt) || "").trim();
        if (v)
            args.push(`--${opt.replaceAll("_", "-")}`, v);
    }
    return [...args, "--", String(data.get("name") || "").trim()];
}

function init() {
    document.getElementById("instance-form").addEventListener("submit", ev => {
        ev.preventDefault();
        const args = formArgs(ev.target, ["region_size", "vectors"]);
        act(`instance ${args[args.length - 1]} created`, "instance", "create", ...args)
                .then(ok => ok && ev.target.reset());
    });
    document.getElementById("device-form").addEventListener("submit", ev => {
        ev.preventDefault();
        const args = formArgs(ev.target, ["instance", "tap", "bridge", "mtu"]);
        act(`device ${args[args.length - 1]} created`, "device", "create", ...args)
                .then(ok => ok && ev.target.reset());
    });
    document.getElementById("restart").addEventListener("click", () => {
        // Under systemd the instances go to the FD store and the new process
        // adopts them: guests keep their connections (docs/handover.md).
        cockpit.spawn(["systemctl", "restart", SERVICE], { superuser: "require", err: "message" })
                .then(() => alert("success", "alacrityvmd restarted; the guests kept their devices"),
                      ex => alert("danger", `Restart failed: ${ex.message}`));
    });
    avmctl("version").then(v => {
        document.getElementById("version").textContent = `alacrityvmd ${v.version}, ABI ${v.abi}`;
    }, () => {});
    refresh();
    setInterval(refresh, POLL_MS);
}

document.addEventListener("DOMContentLoaded", init);
