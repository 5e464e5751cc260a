// The dashboard page: fetches one tenant's figures from GET /v1/dashboard and shows them. Plain script,
// nothing to build. A gateway with keys gets the key once per tab (session storage).
(function () {
  const $ = (id) => document.getElementById(id);
  const percent = (value) => (value === null || value === undefined ? "n/a" : `${(value * 100).toFixed(1)}%`);

  async function load() {
    const params = new URLSearchParams({ hours: $("hours").value });
    if ($("tenant").value) params.set("tenant", $("tenant").value);
    const headers = {};
    const key = sessionStorage.getItem("keystroke-key");
    if (key) headers.Authorization = `Bearer ${key}`;
    $("status").textContent = "loading…";
    const response = await fetch(`/v1/dashboard?${params}`, { headers });
    if (response.status === 401) {
      const entered = prompt("This gateway needs an API key:");
      if (entered) {
        sessionStorage.setItem("keystroke-key", entered);
        return load();
      }
    }
    const data = await response.json();
    if (!response.ok) {
      $("status").textContent = data.error?.message || JSON.stringify(data);
      return;
    }
    show(data);
    $("status").textContent = `tenant ${data.tenant}, updated ${new Date().toLocaleTimeString()}`;
  }

  function show(data) {
    const select = $("tenant");
    if (data.tenants.length && select.options.length !== data.tenants.length) {
      select.replaceChildren(...data.tenants.map((name) => new Option(name, name, false, name === data.tenant)));
    }
    select.disabled = !data.tenants.length;
    const r = data.rates;
    const cards = [
      ["shown", `${r.shown} of ${r.eligible}`],
      ["shown rate", percent(r.shown_rate)],
      ["acceptance rate", percent(r.acceptance_rate)],
      ["abstain rate", percent(r.abstain_rate)],
      ["retained at 30 s", percent(r.retained_rate["30s"])],
      ["retained at 2 min", percent(r.retained_rate["120s"])],
      ["retained at 5 min", percent(r.retained_rate["300s"])],
      ["dismissed / typed over", `${r.dismissed} / ${r.typed_over}`],
    ];
    const ms = (v) => (v === null ? "n/a" : v.toFixed(0));
    for (const [lane, p] of Object.entries(data.first_action_ms)) {
      cards.push([`${lane}: p50/p95/p99 ms`, `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}`]);
    }
    for (const [who, p] of Object.entries(data.served_ms || {})) {
      cards.push([`served by ${who}: p50/p95 ms (n=${p.n})`, `${ms(p.p50)} / ${ms(p.p95)}`]);
    }
    $("rates").replaceChildren(
      ...cards.map(([label, value]) => {
        const card = document.createElement("div");
        card.className = "rate";
        const strong = document.createElement("b");
        strong.textContent = value;
        card.append(strong, label);
        return card;
      }),
    );
    const plots = Object.entries(data.plots);
    $("plots").replaceChildren(
      ...plots.map(([name, svg]) => {
        const box = document.createElement("div");
        box.className = "plot";
        box.id = `plot-${name}`;
        box.innerHTML = svg; // drawn by the gateway from numbers only
        return box;
      }),
    );
    if (!plots.length) $("plots").textContent = "No data yet: type in the playground, or point an editor at this gateway.";
  }

  $("refresh").onclick = load;
  $("tenant").onchange = load;
  $("hours").onchange = load;
  load();
})();
