"""The before/after section of bench/results.md: an earlier results.json against this one."""


def _get(report, *keys):
    x = report.get("benches", {})
    for k in keys:
        if not isinstance(x, dict) or k not in x:
            return None
        x = x[k]
    return x


def before_after(before, after):
    """Markdown comparing the numbers both reports have."""
    lines = [f"Before: {before['machine']['caffe']['build']} ({before['machine']['caffe']['blas']}), "
             f"commit {before['commit']}, {before['date']}. After: {after['machine']['caffe']['build']} "
             f"({after['machine']['caffe']['blas']}), commit {after['commit']}.", ""]
    nets_b, nets_a = _get(before, "nets", "results", "nets") or {}, _get(after, "nets", "results", "nets") or {}
    common = [n for n in nets_a if n in nets_b]
    if common:
        lines += ["| net | Caffe ms before | Caffe ms after | speed-up | Caffe/PyTorch before | Caffe/PyTorch after |",
                  "|---|---:|---:|---:|---:|---:|"]
        for n in common:
            b, a = nets_b[n], nets_a[n]
            lines.append(f"| {n} | {b['caffe_ms']:.0f} | {a['caffe_ms']:.0f} | {b['caffe_ms'] / a['caffe_ms']:.2f}x | "
                         f"{b['ratio']:.2f} | {a['ratio']:.2f} |")
        lines.append("")
    rc_b, rc_a = _get(before, "layers", "results", "region_vs_conv"), _get(after, "layers", "results", "region_vs_conv")
    if rc_b and rc_a:
        lines.append(f"- Region vs 3 x 3 conv: {rc_b['ratio']:.2f}x before ({rc_b['region_ms']:.0f} ms vs "
                     f"{rc_b['conv3x3_ms']:.0f} ms), {rc_a['ratio']:.2f}x after ({rc_a['region_ms']:.0f} ms vs "
                     f"{rc_a['conv3x3_ms']:.0f} ms).")
    sh_b, sh_a = _get(before, "layers", "results", "loss_share"), _get(after, "layers", "results", "loss_share")
    if sh_b and sh_a:
        lines.append("- Loss share of an iteration: " + "; ".join(
            f"{n} {100 * sh_b[n]['share']:.3f} % before, {100 * sh_a[n]['share']:.3f} % after"
            for n in sh_a if n in sh_b) + ".")
    d_b, d_a = _get(before, "data", "results", "synthau"), _get(after, "data", "results", "synthau")
    if d_b and d_a:
        lines.append(f"- synthau builder: {d_b['lmdb_images_per_s']:.0f} LMDB images/s before, "
                     f"{d_a['lmdb_images_per_s']:.0f} after.")
    bl_b, bl_a = _get(before, "build", "results"), _get(after, "build", "results")
    if bl_b and bl_a and "cold_s" in bl_b and "cold_s" in bl_a:
        lines.append(f"- Cold Caffe build: {bl_b['cold_s']:.0f} s before, {bl_a['cold_s']:.0f} s after.")
    return "\n".join(lines)
