"""The dashboard's stylesheet and script, served as static files (no build step). The script polls the JSON
API and redraws with textContent only, so state never becomes markup. Imports nothing."""

from __future__ import annotations

CSS = """
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #fafafa; }
body { margin: 0; }
header { background: #232f3e; color: #fff; padding: .6rem 1.2rem; display: flex; gap: .8rem; align-items: baseline; }
header a.brand { color: #ff9900; font-weight: 700; text-decoration: none; }
header .muted { color: #c8ccd1; }
#live { margin-left: auto; font-size: .85rem; }
main { padding: 0 1.2rem 2rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: .9rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
th { background: #f0f1f2; font-weight: 600; }
tr.empty td { color: #777; font-style: italic; }
.status { font-weight: 600; font-size: .8rem; padding: .05rem .4rem; border-radius: .6rem; background: #e8eaed; }
.status-RUNNING, .status-STARTING { background: #dbeafe; color: #1e40af; }
.status-SUCCEEDED { background: #dcfce7; color: #166534; }
.status-FAILED { background: #fee2e2; color: #991b1b; }
.status-RUNNABLE { background: #fef3c7; color: #92400e; }
nav { margin: .5rem 0; display: flex; gap: .8rem; flex-wrap: wrap; }
nav a.active { font-weight: 700; }
.pager { margin-top: .6rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; word-break: break-all; }
pre#logs { background: #111; color: #e5e5e5; padding: .8rem; min-height: 2rem; overflow-x: auto; white-space: pre-wrap; }
.error { color: #991b1b; }
meter { width: 8rem; }
"""

JS = r"""
(function () {
  "use strict";
  var UI = "/_batchemu/ui";
  var STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"];
  var body = document.body;
  var live = document.getElementById("live");

  function when(ms) {
    return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z" : "";
  }
  function text(value) { return value === null || value === undefined ? "" : String(value); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "object" && child !== null ? child : document.createTextNode(text(child)));
    });
    return node;
  }
  function badge(status) { return el("span", {"class": "status status-" + text(status)}, [status]); }
  function jobHref(id) { return UI + "/jobs/" + encodeURIComponent(id); }
  function row(values, attrs) {
    return el("tr", attrs, values.map(function (value) { return el("td", {}, [value]); }));
  }
  function fill(tableId, rows) {
    var tbody = document.querySelector("#" + tableId + " tbody");
    if (!tbody) { return; }
    if (rows.length === 0) {
      rows = [el("tr", {"class": "empty"}, [el("td", {colspan: "99"}, [tbody.getAttribute("data-empty")])])];
    }
    tbody.replaceChildren.apply(tbody, rows);
  }
  function fmt(n) { return Number(n).toString(); }

  function renderSummary(s) {
    fill("compute-environments", s.computeEnvironments.map(function (ce) {
      var used = ce.maxvCpus === null ? fmt(ce.vcpusUsed) : fmt(ce.vcpusUsed) + " of " + fmt(ce.maxvCpus);
      var meter = ce.maxvCpus ? el("meter", {min: "0", max: text(ce.maxvCpus), value: text(ce.vcpusUsed)}) : "";
      return row([el("span", {title: ce.arn}, [ce.name]), ce.account + " / " + ce.region,
        ce.type + " " + ce.platform, ce.state, ce.status, el("span", {"class": "vcpus"}, [used]), meter],
        {"data-name": ce.name});
    }));
    fill("instances", (s.instances || []).map(function (i) {
      var jobs = i.jobs.map(function (id) { return el("a", {href: jobHref(id)}, [id + " "]); });
      return row([el("span", {title: i.containerInstanceArn}, [i.instanceId]), i.computeEnvironment,
        i.instanceType + (i.spot ? " (Spot)" : ""),
        fmt(i.used.vcpus) + " of " + fmt(i.vcpus) + " vCPUs, " + fmt(i.used.memoryMiB) + " of " +
        fmt(i.registeredMemoryMiB) + " MiB" + (i.gpus ? ", " + fmt(i.used.gpus) + " of " + fmt(i.gpus) + " GPUs" : ""),
        el("span", {}, jobs)], {"data-instance-id": i.instanceId});
    }));
    fill("job-queues", s.jobQueues.map(function (q) {
      var counts = STATUSES.map(function (st) { return el("span", {"class": "count"}, [q.counts[st]]); });
      return row([el("span", {title: q.arn}, [q.name]), q.account + " / " + q.region, q.state, q.status,
        q.priority, q.computeEnvironments.join(", ")].concat(counts), {"data-name": q.name});
    }));
    fill("jobs", s.jobs.map(function (job) {
      var name = job.jobName;
      if (job.arraySize) { name += " [array of " + job.arraySize + "]"; }
      else if (job.numNodes) { name += " [" + job.numNodes + " nodes]"; }
      return row([name, el("a", {href: jobHref(job.jobId)}, [job.jobId]), job.jobQueue, badge(job.status),
        job.statusReason, when(job.createdAt), when(job.startedAt), when(job.stoppedAt)],
        {"data-job-id": job.jobId});
    }));
    function iso(t) { return t ? t.replace("T", " ").slice(0, 19) + "Z" : ""; }
    fill("executions", (s.executions || []).map(function (e) {
      var href = UI + "/executions/" + encodeURIComponent(e.executionArn);
      return row([el("a", {href: href}, [e.name]), e.stateMachineName, badge(e.status), iso(e.startDate),
        iso(e.stopDate), e.jobs]);
    }));
    fill("schedules", (s.schedules || []).map(function (x) {
      return row([x.kind, x.name, el("code", {}, [x.expression]), x.state, when(x.next), x.jobs]);
    }));
    var all = 0;
    STATUSES.forEach(function (st) { all += s.totals[st] || 0; });
    document.querySelectorAll("#status-filter a").forEach(function (a) {
      var st = a.getAttribute("data-status");
      a.querySelector("span").textContent = text(st ? s.totals[st] || 0 : all);
    });
    var info = document.getElementById("page-info");
    var p = s.page;
    if (info) {
      info.textContent = p.total === 0 ? "0 jobs" :
        (p.offset + 1) + "-" + Math.min(p.offset + p.limit, p.total) + " of " + p.total + " jobs";
    }
    return true;
  }

  var finishedPolls = 0;
  function renderJob(d) {
    var job = d.job;
    document.getElementById("job-status").replaceChildren(badge(job.status));
    document.getElementById("job-reason").textContent = text(job.statusReason);
    document.getElementById("job-started").textContent = when(job.startedAt);
    document.getElementById("job-stopped").textContent = when(job.stoppedAt);
    fill("attempts", job.attempts.map(function (a) {
      return row([text(a.number) + (a.live ? " (live)" : ""), a.computeEnvironment, when(a.startedAt),
        when(a.stoppedAt), a.exitCode, a.reason, a.statusReason, a.logStreamName]);
    }));
    fill("history", job.history.map(function (h) { return row([when(h.at), badge(h.status), h.statusReason]); }));
    document.getElementById("logs").textContent = d.logs.map(function (line) {
      return "[" + line.attempt + "] " + when(line.timestamp) + "  " + line.message;
    }).join("\n");
    document.getElementById("log-error").textContent = text(d.logError);
    // Lines are shipped a moment after the job ends: keep polling a little while after it finishes.
    if (job.isFinished) { finishedPolls += 1; }
    return !(job.isFinished && (finishedPolls > 30 || (d.logs.length > 0 && finishedPolls > 3)));
  }

  function poll(render) {
    fetch(body.getAttribute("data-api"), {cache: "no-store"})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        live.textContent = "live";
        if (render(data)) { setTimeout(function () { poll(render); }, 1000); }
        else { live.textContent = "up to date"; }
      })
      .catch(function () {
        live.textContent = "offline, retrying";
        setTimeout(function () { poll(render); }, 3000);
      });
  }

  var page = body.getAttribute("data-page");
  if (page === "overview") { poll(renderSummary); }
  else if (page === "job") { poll(renderJob); }
})();
"""
