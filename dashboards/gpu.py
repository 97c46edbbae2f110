"""GPU: utilisation, memory, power and energy, temperatures, clocks, throttling, XID errors and
profiling activity per GPU and per pod (DCGM-Exporter 4.5.3-4.8.2 names), next to the vLLM engine
using each GPU."""

from __future__ import annotations

from dashboards import promql as q
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query, Row
from dashboards.mixin import Alert, Dashboard, Group, Record, Variable

GPU = ("Hostname", "gpu")
# NVML clocks-event reason bits in DCGM_FI_DEV_CLOCKS_EVENT_REASONS that mean a slowdown.
THROTTLE_BITS = {"power": (0x4, 0x80), "thermal": (0x20, 0x40), "hardware": (0x8,)}
# A busy GPU at its power limit is normal (an L4 under load sits at its 72 W cap); power capping of a
# GPU less busy than this is not load but a lowered limit or a brake.
POWER_CAPPED_BUSY_PERCENT = 50
# XIDs that mean the hardware (memory ECC, the bus, NVLink, the GSP), not an application, is at fault:
# critical. Others, such as 13, 31 and 43 (a kernel's exception, page fault or stopped channel), are
# the application's and warn. From NVIDIA's XID catalogue; docs/runbook.md#gpuxiderror lists both.
HARDWARE_XIDS = (48, 63, 64, 74, 79, 92, 94, 95, 119, 120, 140)
# DCGM_FI_DEV_XID_ERRORS holds the last XID and never resets (NVIDIA/DCGM#277, dcgm-exporter#500):
# the alert fires for this long after the value changes to a new XID, then resolves.
XID_NEW_FOR = "1h"


def variables(spec: SignalsSpec) -> tuple[Variable, ...]:
    job = tuple(spec.selectors.dcgm.items())
    return (
        Variable("Hostname", "Node", "DCGM_FI_DEV_GPU_UTIL", "Hostname", job),
        Variable("gpu", "GPU", "DCGM_FI_DEV_GPU_UTIL", "gpu", job, ("Hostname",)),
    )


def raw(spec: SignalsSpec, metric: str, **extra: str) -> str:
    return q.selector(metric, spec.selectors.dcgm, **extra)


def as_workload(expr: str) -> str:
    """The GPU's workload labels (exported_namespace/exported_pod under honorLabels false) moved to
    namespace/pod, so GPU series join vLLM's by pod."""
    inner = f'label_replace({expr}, "namespace", "$1", "exported_namespace", "(.+)")'
    return f'label_replace({inner}, "pod", "$1", "exported_pod", "(.+)")'


def bit_set(expr: str, bit: int) -> str:
    """1 where the bit is set in a bitmask gauge (PromQL has no bitwise operators)."""
    return f"(floor({expr} / {bit}) % 2)"


def throttled(spec: SignalsSpec, reason: str) -> str:
    mask = raw(spec, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS")
    return " + ".join(bit_set(mask, bit) for bit in THROTTLE_BITS[reason])


def rules(spec: SignalsSpec) -> list[Group]:
    workload = {"exported_pod": "~.+"}
    memory_total = f"({raw(spec, 'DCGM_FI_DEV_FB_USED')} + {raw(spec, 'DCGM_FI_DEV_FB_FREE')})"
    records = [
        Record("gpu:dcgm_fb_used:ratio", q.ratio(raw(spec, "DCGM_FI_DEV_FB_USED"), memory_total)),
        Record("gpu:dcgm_energy_joules:rate5m", f"{q.rate(raw(spec, 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION'), '5m')} / 1000"),
        Record("cluster:dcgm_gpus:count", f"count({raw(spec, 'DCGM_FI_DEV_GPU_UTIL')})"),
        Record("cluster:dcgm_gpus_allocated:count", f"count({raw(spec, 'DCGM_FI_DEV_GPU_UTIL', **workload)}) or vector(0)"),
        Record("cluster:dcgm_gpu_utilization:avg", f"avg({raw(spec, 'DCGM_FI_DEV_GPU_UTIL')}) / 100"),
        Record("cluster:dcgm_energy_joules:rate5m", "sum(gpu:dcgm_energy_joules:rate5m)"),
        Record("gpu:dcgm_gpu_utilization:avg1h", f"avg_over_time({raw(spec, 'DCGM_FI_DEV_GPU_UTIL')}[1h])"),
        Record("pod:dcgm_gpu_utilization:avg", q.sum_by(["namespace", "pod"], as_workload(raw(spec, "DCGM_FI_DEV_GPU_UTIL", **workload)), op="avg")),
        Record("pod:dcgm_power_usage_watts:sum", q.sum_by(["namespace", "pod"], as_workload(raw(spec, "DCGM_FI_DEV_POWER_USAGE", **workload)))),
        Record("pod:dcgm_fb_used_mib:sum", q.sum_by(["namespace", "pod"], as_workload(raw(spec, "DCGM_FI_DEV_FB_USED", **workload)))),
    ]
    for reason in THROTTLE_BITS:
        records.append(Record(f"gpu:dcgm_clocks_throttled_{reason}:bool", f"clamp_max({throttled(spec, reason)}, 1)"))
    records.append(Record(NEW_XID, new_xid(spec)))
    return [Group("llmobs-gpu.rules", tuple(records)), Group("llmobs-gpu.alerts", tuple(alerts(spec)))]


def new_xid(spec: SignalsSpec) -> str:
    """XIDs that appeared within XID_NEW_FOR: non-zero now, and not the value the same series had then
    (a new code is a new err_code series, so it has no earlier value and counts as new)."""
    xid = raw(spec, "DCGM_FI_DEV_XID_ERRORS")
    return f"({xid} > 0 unless {xid} == {xid} offset {XID_NEW_FOR})"


NEW_XID = f"gpu:dcgm_xid_errors:new{XID_NEW_FOR}"


def xid_alerts(spec: SignalsSpec) -> list[Alert]:
    hardware = "(" + " or ".join(f"{NEW_XID} == {code}" for code in HARDWARE_XIDS) + ")"
    gpu = "GPU {{ $labels.gpu }} on {{ $labels.Hostname }}"
    what = f"{gpu} reported XID {{{{ $value }}}} ({{{{ $labels.err_msg }}}}) in the last {XID_NEW_FOR}"
    return [
        Alert("GpuXidError", hardware, "critical",
              "A GPU reported a hardware XID error.",
              f"{what}: a hardware fault (memory, bus, NVLink or firmware). Drain the GPU before trusting it again."),
        Alert("GpuXidError", f"{NEW_XID} unless {hardware}", "warning",
              "A GPU reported an application XID error.",
              f"{what}: usually an application fault (a kernel exception, page fault or stopped channel); "
              "check the engine's logs."),
    ]


def alerts(spec: SignalsSpec) -> list[Alert]:
    t = spec.thresholds
    gpu = "GPU {{ $labels.gpu }} on {{ $labels.Hostname }}"
    return [
        *xid_alerts(spec),
        Alert("GpuThermalThrottling", "gpu:dcgm_clocks_throttled_thermal:bool == 1",
              "warning", "A GPU is slowing its clocks because it is too hot.",
              f"{gpu} has been thermally throttled for 10 minutes (DCGM_FI_DEV_CLOCKS_EVENT_REASONS thermal bits).", "10m"),
        Alert("GpuPowerThrottling",
              f"gpu:dcgm_clocks_throttled_power:bool == 1 and on(Hostname, gpu) {raw(spec, 'DCGM_FI_DEV_GPU_UTIL')} < {POWER_CAPPED_BUSY_PERCENT}",
              "warning", "A GPU is held at its power limit without being busy.",
              f"{gpu} has been power-capped for 15 minutes (DCGM_FI_DEV_CLOCKS_EVENT_REASONS power bits) while under "
              f"{POWER_CAPPED_BUSY_PERCENT}% utilised: a lowered power limit or a power brake, not load. (A loaded L4 at its "
              "72 W limit is normal and does not alert.)", "15m"),
        Alert("GpuTemperatureHigh", f"{raw(spec, 'DCGM_FI_DEV_GPU_TEMP')} > {t.gpu_temperature_celsius}", "warning",
              "A GPU is running hot.",
              f"{gpu} has been above {t.gpu_temperature_celsius} °C for 15 minutes ({{{{ $value }}}} °C now, "
              "DCGM_FI_DEV_GPU_TEMP): close to where it slows its clocks.", "15m"),
        Alert("GpuMemoryNearFull", f"gpu:dcgm_fb_used:ratio > {t.gpu_memory_full_fraction}", "warning",
              "GPU memory is nearly full.",
              f"{gpu} uses {{{{ $value | humanizePercentage }}}} of its framebuffer; the next allocation may fail.", "15m"),
        Alert("GpuIdleCostingMoney", f"gpu:dcgm_gpu_utilization:avg1h < {t.gpu_idle_utilisation_percent}", "info",
              "A paid-for GPU has been idle for an hour.",
              f"{gpu} averaged {{{{ $value | humanize }}}}% utilisation over the last hour (threshold "
              f"{t.gpu_idle_utilisation_percent}%) while the instance keeps billing; scale down or stop the host.", "1h"),
    ]


G = {"Hostname": "$Hostname", "gpu": "$gpu"}
LEG = "{{Hostname}} GPU {{gpu}}"


def panels(spec: SignalsSpec) -> dict[str, Panel]:
    def per_gpu(metric: str, title: str, unit: str, what: str, scale: str = "", **kw) -> Panel:
        return Panel("timeseries", title, f"{metric} per GPU: {what}", unit,
                     (Query(raw(spec, metric, **G) + scale, LEG),), **kw)

    return {
        "in_use": Panel("stat", "GPUs in use", "GPUs reporting DCGM_FI_DEV_GPU_UTIL, and those held by a pod (exported_pod "
                        "set; recorded cluster:dcgm_gpus:count and cluster:dcgm_gpus_allocated:count).", "none",
                        (Query("cluster:dcgm_gpus_allocated:count", "held by pods", instant=True),
                         Query("cluster:dcgm_gpus:count", "total", instant=True)), width=4),
        "util": per_gpu("DCGM_FI_DEV_GPU_UTIL", "GPU utilisation", "percent", "share of time a kernel ran.", width=8, max=100, min=0),
        "util_narrow": per_gpu("DCGM_FI_DEV_GPU_UTIL", "GPU utilisation", "percent", "share of time a kernel ran.", width=6, max=100, min=0),
        "memory": Panel("timeseries", "Framebuffer memory used", "DCGM_FI_DEV_FB_USED over FB_USED + DCGM_FI_DEV_FB_FREE per GPU "
                        "(recorded gpu:dcgm_fb_used:ratio); the dashed line is GpuMemoryNearFull's threshold, "
                        f"{spec.thresholds.gpu_memory_full_fraction}.", "percentunit",
                        (Query(q.selector("gpu:dcgm_fb_used:ratio", G), LEG),), width=7, min=0, max=1,
                        thresholds=((spec.thresholds.gpu_memory_full_fraction, "orange"),)),
        "memory_bytes": Panel("timeseries", "Framebuffer used and free", "DCGM_FI_DEV_FB_USED and DCGM_FI_DEV_FB_FREE per GPU (MiB).",
                              "mbytes", (Query(raw(spec, "DCGM_FI_DEV_FB_USED", **G), LEG + " used"),
                                         Query(raw(spec, "DCGM_FI_DEV_FB_FREE", **G), LEG + " free")), width=7),
        "power": per_gpu("DCGM_FI_DEV_POWER_USAGE", "Power draw", "watt", "instantaneous board power.", width=8),
        "energy": Panel("timeseries", "Energy use", "Rate of DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (mJ counter) as watts averaged "
                        "over 5 minutes (recorded gpu:dcgm_energy_joules:rate5m).", "watt",
                        (Query(q.selector("gpu:dcgm_energy_joules:rate5m", G), LEG),), width=8),
        "temperature": Panel("timeseries", "Temperatures", "DCGM_FI_DEV_GPU_TEMP and DCGM_FI_DEV_MEMORY_TEMP per GPU; the dashed "
                             f"line is GpuTemperatureHigh's threshold, {spec.thresholds.gpu_temperature_celsius} °C.", "celsius",
                             (Query(raw(spec, "DCGM_FI_DEV_GPU_TEMP", **G), LEG + " core"),
                              Query(raw(spec, "DCGM_FI_DEV_MEMORY_TEMP", **G), LEG + " memory")), width=8,
                             thresholds=((spec.thresholds.gpu_temperature_celsius, "orange"),)),
        "clocks": Panel("timeseries", "Clocks", "DCGM_FI_DEV_SM_CLOCK and DCGM_FI_DEV_MEM_CLOCK per GPU.", "hertz",
                        (Query(raw(spec, "DCGM_FI_DEV_SM_CLOCK", **G) + " * 1e6", LEG + " SM"),
                         Query(raw(spec, "DCGM_FI_DEV_MEM_CLOCK", **G) + " * 1e6", LEG + " memory")), width=8),
        "throttle": Panel("timeseries", "Clock throttling by reason",
                          "Power, thermal and hardware-slowdown bits of DCGM_FI_DEV_CLOCKS_EVENT_REASONS per GPU "
                          "(recorded gpu:dcgm_clocks_throttled_*:bool, 1 = throttled).", "bool",
                          tuple(Query(q.selector(f"gpu:dcgm_clocks_throttled_{r}:bool", G), f"{LEG} {r}") for r in THROTTLE_BITS),
                          width=8, min=0, max=1),
        "xid": Panel("stat", "Last XID error", "DCGM_FI_DEV_XID_ERRORS per GPU: the last XID code (0 = none).", "none",
                     (Query(raw(spec, "DCGM_FI_DEV_XID_ERRORS", **G), LEG),), width=8),
        "activity": Panel("timeseries", "Tensor, DRAM, SM and graphics-engine activity",
                          "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, DCGM_FI_PROF_DRAM_ACTIVE, DCGM_FI_PROF_SM_ACTIVE and "
                          "DCGM_FI_PROF_GR_ENGINE_ACTIVE per GPU (0-1 ratios of cycles).", "percentunit",
                          tuple(Query(raw(spec, m, **G), f"{LEG} {label}") for m, label in (
                              ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "tensor"), ("DCGM_FI_PROF_DRAM_ACTIVE", "DRAM"),
                              ("DCGM_FI_PROF_SM_ACTIVE", "SM"), ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "graphics"))),
                          width=12, min=0, max=1),
        "per_pod": Panel("table", "GPUs by pod",
                         "Per workload pod (exported_pod of DCGM-Exporter): mean DCGM_FI_DEV_GPU_UTIL, summed "
                         "DCGM_FI_DEV_POWER_USAGE and DCGM_FI_DEV_FB_USED (recorded pod:dcgm_*).", "short",
                         (Query("pod:dcgm_gpu_utilization:avg", "utilisation %", instant=True),
                          Query("pod:dcgm_power_usage_watts:sum", "power W", instant=True),
                          Query("pod:dcgm_fb_used_mib:sum", "memory MiB", instant=True)), width=12),
        "engine_vs_gpu": Panel("timeseries", "Generated tokens per GPU watt, per engine",
                               "Rate of vllm:generation_tokens_total per engine pod divided by the DCGM_FI_DEV_POWER_USAGE "
                               "of the GPUs that pod holds (joined on namespace and pod).", "short",
                               (Query(q.ratio("pod:vllm_generation_tokens:rate5m", "pod:dcgm_power_usage_watts:sum", on=["namespace", "pod"]),
                                      "{{namespace}}/{{pod}}"),), width=12),
        "engine_util": Panel("timeseries", "GPU utilisation next to engine load",
                             "pod:dcgm_gpu_utilization:avg (DCGM_FI_DEV_GPU_UTIL of the pod's GPUs) and vllm:num_requests_running "
                             "of the same pod.", "short",
                             (Query("pod:dcgm_gpu_utilization:avg", "{{pod}} GPU %"),
                              Query(q.sum_by(["namespace", "pod"], q.selector("vllm:num_requests_running", spec.selectors.vllm)),
                                    "{{pod}} running requests")), width=12),
    }


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    if not spec.gpus:
        return []  # no-GPU mode: nothing for DCGM to report, so no GPU dashboard
    p = panels(spec)
    return [Dashboard(
        "llmobs-gpu", "GPUs",
        "NVIDIA GPUs through DCGM-Exporter: utilisation, memory, power, heat, clocks, throttling and errors, "
        "per GPU and per workload pod.",
        (
            Row("Utilisation and memory", (p["in_use"], p["util_narrow"], p["memory"], p["memory_bytes"])),
            Row("Power, heat and clocks", (p["power"], p["energy"], p["temperature"], p["clocks"], p["throttle"], p["xid"])),
            Row("Activity", (p["activity"], p["per_pod"])),
            Row("GPUs and the engines on them", (p["engine_util"], p["engine_vs_gpu"])),
        ),
        variables(spec), ("gpu",),
    )]
