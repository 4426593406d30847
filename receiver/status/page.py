"""The status page's HTML: one Jinja template (autoescaped by Flask), inline CSS, no script,
no external asset — it renders on a machine without internet. The browser re-asks for it
every REFRESH_SECONDS (a meta refresh). Every value comes from receiver/status/model.py."""

from __future__ import annotations

from datetime import UTC, datetime

from receiver.envelope import STATUS

# Grid and badge colours; tests/receiver/test_status_page_browser.py checks the rendered cells against them.
COLOURS = {"green": "#1a7f37", "yellow": "#d4a72c", "red": "#cf222e", "none": "#eaeef2"}


def helpers(now: float) -> dict:
    def utc(ts):
        if ts is None:
            return "—"
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def ago(ts):
        if ts is None:
            return "never"
        seconds = max(0, now - ts)
        for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
            if seconds >= size:
                return f"{seconds / size:.0f} {unit} ago"
        return f"{seconds:.0f} s ago"

    def kind(result):
        """ok: accepted · info: answered without metrics (duplicate, ping…) · bad: refused."""
        if result == "accepted":
            return "ok"
        return "info" if STATUS.get(result, 500) < 400 else "bad"

    def num(value):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"

    return {"utc": utc, "ago": ago, "kind": kind, "num": num, "colours": COLOURS}


TEMPLATE = """<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{ page.refresh_seconds }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>orgpulse status</title>
<link rel="icon" href="data:,">
<style>
 :root { --ok: {{ colours.green }}; --warn: {{ colours.yellow }}; --bad: {{ colours.red }};
         --none: {{ colours.none }}; --ink: #1f2328; --mute: #59636e; --line: #d1d9e0; }
 * { box-sizing: border-box; }
 body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
        margin: 0; background: #f6f8fa; }
 header { background: #24292f; color: #fff; padding: 10px 24px; display: flex; gap: 24px;
          align-items: baseline; flex-wrap: wrap; }
 header h1 { font-size: 18px; margin: 0; }
 header span { color: #d0d7de; }
 main { max-width: 1400px; margin: 0 auto; padding: 12px 24px 40px; }
 section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 14px 0;
           padding: 12px 16px; }
 h2 { font-size: 16px; margin: 0 0 8px; }
 h3 { font-size: 14px; margin: 12px 0 6px; }
 table { border-collapse: collapse; width: 100%; }
 th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
 th { color: var(--mute); font-weight: 600; font-size: 12px; }
 td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
 code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
 .mute { color: var(--mute); }
 .badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
          font-weight: 600; color: #fff; white-space: nowrap; }
 .badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
 .badge.info { background: #6e7781; } .badge.warn { background: var(--warn); color: var(--ink); }
 tr.failed td { background: #ffebe9; }
 tr.failed td.reason { color: var(--bad); font-weight: 600; }
 .banner { padding: 8px 12px; border-radius: 6px; margin: 6px 0; }
 .banner.stale, .banner.unreadable { background: #fff8c5; border: 1px solid var(--warn); }
 .banner.missing { background: var(--none); }
 .nowrap { white-space: nowrap; }
 .grid td.cell { text-align: center; width: 10%; font-variant-numeric: tabular-nums; font-weight: 600; }
 .grid td.green { background: var(--ok); color: #fff; }
 .grid td.yellow { background: var(--warn); color: var(--ink); }
 .grid td.red { background: var(--bad); color: #fff; }
 .grid td.none { background: var(--none); color: var(--mute); font-weight: 400; }
 .grid tr.area td.name { font-weight: 600; }
 .kv { display: flex; gap: 28px; flex-wrap: wrap; margin: 4px 0 8px; }
 .kv div b { display: block; font-size: 20px; }
 .kv div span { color: var(--mute); font-size: 12px; }
 details summary { cursor: pointer; font-weight: 600; }
</style>
</head><body>
<header><h1>orgpulse status</h1>
 <span>{{ "local mode (log sink)" if page.mode == "local" else "Datadog Agent" }}</span>
 <span>generated {{ utc(page.generated_at) }}</span>
 <span>refreshes every {{ page.refresh_seconds }} s</span></header>
<main>

<section id="sources"><h2>Webhook sources</h2>
 {% if not public_url %}<p class="mute">Webhook URLs are this page's address; set
 <code>receiver.public_url</code> to show the one providers reach.</p>{% endif %}
 <table><thead><tr><th>source</th><th>configured</th><th>webhook URL to paste into the provider</th>
  <th class="num">last hour</th><th>by outcome</th><th>last delivery</th></tr></thead><tbody>
 {% for s in page.sources %}
  <tr id="source-{{ s.name }}" data-configured="{{ s.configured|lower }}"><td><b>{{ s.name }}</b></td>
   <td>{% if s.configured %}<span class="badge ok">configured</span>
    {% elif s.configured is none %}—{% else %}<span class="badge bad">not configured</span>{% endif %}
    {% for item in s.missing %}<div class="mute">missing: {{ item }}</div>{% endfor %}
    {% for note in s.notes %}<div class="mute">{{ note }}</div>{% endfor %}</td>
   <td>{% for url in s.webhooks %}<div><code>{{ url }}</code></div>{% else %}—{% endfor %}</td>
   <td class="num"><b>{{ s.last_hour.values()|sum }}</b></td>
   <td>{% for outcome, n in s.last_hour.items()
   %}<span class="badge {{ kind(outcome) }}">{{ outcome }} {{ n }}</span> {% endfor %}</td>
   <td>{{ ago(s.last_delivery) }}</td></tr>
 {% endfor %}</tbody></table>
</section>

<section id="deliveries"><h2>Recent deliveries</h2>
 <p class="mute">What each delivery was and what it emitted — never its content.</p>
 {% for s in page.sources %}
  <h3>{{ s.name }}</h3>
  {% if s.recent %}
  <table class="recent" data-source="{{ s.name }}"><thead><tr><th>time (UTC)</th><th>event</th><th>action</th>
   <th>outcome</th><th class="num">status</th><th>metrics emitted</th><th>delivery id</th></tr></thead><tbody>
  {% for d in s.recent[:8] %}
   <tr data-delivery="{{ d.delivery or '' }}"><td class="mono nowrap">{{ utc(d.at)[11:19] }}</td>
    <td>{{ d.event or "—" }}</td><td>{{ d.action or "—" }}</td>
    <td><span class="badge {{ kind(d.outcome) }}">{{ d.outcome }}</span></td>
    <td class="num">{{ d.status }}</td>
    <td class="mono">{{ d.metrics|join(", ") or "—" }}</td>
    <td class="mono nowrap">{{ d.delivery or "—" }}</td></tr>
  {% endfor %}</tbody></table>
  {% else %}<p class="mute">No delivery since this receiver started.</p>{% endif %}
 {% endfor %}
</section>

{% set p = page.poller %}
<section id="poller" data-state="{{ p.state }}"><h2>Poller</h2>
 {% if p.state == "fresh" %}
 <div class="kv">
  {% if p.cycle_at %}<div><b>{{ ago(p.cycle_at) }}</b><span>last cycle ended ({{ utc(p.cycle_at) }})</span></div>
  {% else %}<div><b>running</b><span>first cycle, started {{ ago(p.updated_at) }}</span></div>{% endif %}
  <div><b>{{ p.role or "—" }}</b><span>role</span></div>
  <div><b>{{ p.interval_seconds|int }} s</b><span>interval</span></div>
 </div>
 <table id="collectors"><thead><tr><th>collector</th><th>outcome</th><th class="num">duration</th>
  <th>last success</th><th class="num">metrics</th><th>reason</th></tr></thead><tbody>
 {% for c in p.collectors %}
  <tr class="{{ 'ok' if c.ok else 'failed' }}" data-collector="{{ c.name }}"><td>{{ c.name }}</td>
   <td><span class="badge {{ 'ok' if c.ok else 'bad' }}">{{ "ok" if c.ok else "failed" }}</span></td>
   <td class="num">{{ "%.2f s"|format(c.duration) if c.duration is not none else "—" }}</td>
   <td>{{ ago(c.last_success) }}</td><td class="num">{{ c.emitted if c.emitted is defined else "—" }}</td>
   <td class="reason">{% if not c.ok %}{{ c.error }}{% if c.reasons
   %}: {{ c.reasons|join(", ") }}{% endif %}{% endif %}</td></tr>
 {% else %}<tr><td colspan="6" class="mute">No collector is configured.</td></tr>{% endfor %}
 </tbody></table>
 {% elif p.state == "stale" %}
 <div class="banner stale">Stale: the poller last wrote its state {{ ago(p.updated_at) }}
  ({{ utc(p.updated_at) }}); stale after {{ p.stale_after|int }} s. Its values are not shown as current.</div>
 {% else %}
 <div class="banner {{ p.state }}">No poller state: {{ p.message }}. Is <code>orgpulse poll</code> running?</div>
 {% endif %}
</section>

{% set h = page.health %}
<section id="health"><h2>Health (FoM scores, daily average per UTC day)</h2>
 <p class="mute">green ≥ {{ h.thresholds.green }}, yellow ≥ {{ h.thresholds.yellow }}, red below;
  {% if h.as_of %}as of {{ utc(h.as_of) }}{% else %}nothing recorded yet{% endif %}.</p>
 <table class="grid"><thead><tr><th>score</th>
  {% for d in h.days %}<th class="num">{{ "today" if loop.last else d[5:] }}</th>{% endfor %}</tr></thead><tbody>
 {% for row in h.rows %}
  <tr class="{{ 'area' if row.name.count('.') == 2 else '' }}" data-score="{{ row.name }}">
   <td class="name mono">{{ row.name }}</td>
   {% for c in row.cells %}<td class="cell {{ c.status }}" data-day="{{ c.day }}"
     title="{{ c.day }}">{{ "%.2f"|format(c.value) if c.value is not none else "no data" }}</td>{% endfor %}</tr>
 {% endfor %}</tbody></table>
</section>

{% set i = page.informer %}
<section id="informer" data-state="{{ i.state }}"><h2>Kubernetes informer</h2>
 {% if i.state == "fresh" %}
 <div class="kv">
  <div><b>{{ "watching" if i.watching else "not watching" }}</b><span>watch</span></div>
  <div><b>{{ i.role or "—" }}</b><span>role</span></div>
  <div><b>{{ i.pods }}</b><span>pods cached</span></div>
  <div><b>{{ ago(i.last_event) }}</b><span>last event</span></div>
  <div><b>{{ i.restarts_1h|int }}</b><span>restarts, last hour</span></div>
  <div><b>{{ i.oom_kills_1h }}</b><span>OOM kills, last hour</span></div>
  <div><b>{{ ago(i.updated_at) }}</b><span>last written</span></div>
 </div>
 {% elif i.state == "stale" %}
 <div class="banner stale">Stale: the informer last wrote {{ ago(i.updated_at)
  }}; its values are not shown as current.</div>
 {% else %}
 <div class="banner missing">The informer has not written its state (no cluster configured, or not started).</div>
 {% endif %}
</section>

<section id="gauges"><details><summary>Gauges: latest value of every series ({{ page.gauges|length
 }}{% if page.gauges_hidden %}; {{ page.gauges_hidden }} older not shown{% endif %})</summary>
 <table><thead><tr><th>metric</th><th>tags</th><th class="num">value</th><th>measured</th></tr></thead><tbody>
 {% for g in page.gauges %}<tr><td class="mono">{{ g.name }}</td>
  <td class="mono">{% for k, v in g.tags.items() %}{{ k }}:{{ v }} {% endfor %}</td>
  <td class="num">{{ num(g.value) }}</td><td>{{ ago(g.at) }}</td></tr>{% endfor %}
 </tbody></table></details>
</section>
</main></body></html>
"""
