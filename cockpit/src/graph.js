// SPDX-License-Identifier: GPL-2.0-or-later
// Live graphs: a series of (time, value) samples over the last WINDOW_MS,
// drawn as a line on a canvas with its peak and current value.

export const WINDOW_MS = 5 * 60 * 1000;

export class Series {
    constructor() {
        this.samples = [];
    }

    push(t, v) {
        this.samples.push({ t, v });
        while (this.samples.length && this.samples[0].t < t - WINDOW_MS)
            this.samples.shift();
    }

    last() {
        return this.samples.length ? this.samples[this.samples.length - 1].v : null;
    }

    peak() {
        return this.samples.reduce((m, s) => Math.max(m, s.v), 0);
    }
}

// The rate of counter `now - before` over dt seconds; null when the counter
// went back (a new daemon without a hand-over) or there is no interval.
export function rate(now, before, dt) {
    if (before === undefined || dt <= 0 || now < before)
        return null;
    return (now - before) / dt;
}

// numerator / packets of the same interval (0 packets: 0).
export function perPacket(delta, packets) {
    return packets > 0 ? delta / packets : 0;
}

export function draw(canvas, series, now) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width;
    const h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const style = getComputedStyle(canvas);
    ctx.strokeStyle = style.getPropertyValue("--avm-grid").trim() || "#d2d2d2";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 1; i < 4; i++) {
        ctx.moveTo(0, Math.round((h * i) / 4) + 0.5);
        ctx.lineTo(w, Math.round((h * i) / 4) + 0.5);
    }
    ctx.stroke();
    const peak = series.peak();
    if (series.samples.length < 2 || peak <= 0)
        return;
    ctx.strokeStyle = style.getPropertyValue("--avm-line").trim() || "#0066cc";
    ctx.lineWidth = 2;
    ctx.beginPath();
    series.samples.forEach((s, i) => {
        const x = w - ((now - s.t) / WINDOW_MS) * w;
        const y = h - 2 - (s.v / peak) * (h - 4);
        if (i === 0)
            ctx.moveTo(x, y);
        else
            ctx.lineTo(x, y);
    });
    ctx.stroke();
}
