// SPDX-License-Identifier: GPL-2.0-or-later
// The control API through `avmctl --json`, run by cockpit.spawn with the
// logged-in user's rights (docs/control-api.md, "avmctl"): the result
// object, or an AvmError with the daemon's own message.
/* global cockpit */

// avmctl's exit codes (docs/control-api.md).
const EXIT_API_ERROR = 1;
const EXIT_UNREACHABLE = 3;
const EXIT_PERMISSION = 4;
// The API's "permission denied" (the caller is not in control_group).
const CODE_PERMISSION = -32006;

export class AvmError extends Error {
    // kind: "permission" | "unreachable" | "api" | "other"
    constructor(kind, message, code = null) {
        super(message);
        this.kind = kind;
        this.code = code;
    }
}

function daemonError(out) {
    try {
        return JSON.parse(out).error || null;
    } catch (e) {
        return null;
    }
}

function toError(ex, out) {
    const err = out ? daemonError(out) : null;
    const status = ex.exit_status;
    if (status === EXIT_PERMISSION || (err && err.code === CODE_PERMISSION))
        return new AvmError("permission", "Not permitted: you are not a member of the " +
                            "alacrityvm group (the control socket's group).");
    if (err && status === EXIT_API_ERROR)
        return new AvmError("api", err.message, err.code);
    if (status === EXIT_UNREACHABLE)
        return new AvmError("unreachable", "alacrityvmd does not answer: " + (ex.message || "").trim());
    if (ex.problem === "not-found")
        return new AvmError("other", "avmctl is not installed (package alacrityvm)");
    return new AvmError("other", (ex.message || String(ex)).trim());
}

export function avmctl(...args) {
    return new Promise((resolve, reject) => {
        cockpit.spawn(["avmctl", "--json", ...args.map(String)], { err: "message" })
                .then(out => resolve(out.trim() ? JSON.parse(out) : {}),
                      (ex, out) => reject(toError(ex, out)));
    });
}
