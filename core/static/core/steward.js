// Live job progress: every element with data-job-id polls the jobs API until the job finishes.
(function () {
  const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
  // The same words as Job.eta_text on the server.
  function etaWords(seconds) {
    if (seconds == null) return "";
    if (seconds < 60) return "less than a minute left";
    const minutes = Math.round(seconds / 60);
    return minutes < 90 ? `about ${minutes} min left` : `about ${(seconds / 3600).toFixed(1)} h left`;
  }
  function poll(el) {
    const id = el.dataset.jobId;
    const status = el.querySelector(".job-status");
    if (status && FINISHED.has(status.textContent.trim())) return;
    fetch(`/api/v1/jobs/${id}/`, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((job) => {
        if (!job) return;
        const bar = el.querySelector("progress");
        if (bar) bar.value = job.progress;
        const msg = el.querySelector(".job-message");
        if (msg) msg.textContent = job.message;
        const eta = el.querySelector(".job-eta");
        if (eta) eta.textContent = etaWords(job.eta_seconds);
        if (status) { status.textContent = job.status; status.className = `job-status status-${job.status}`; }
        el.dispatchEvent(new CustomEvent("job-update", { detail: job, bubbles: true }));
        if (FINISHED.has(job.status)) {
          if (el.dataset.reloadOnFinish) window.location.reload();
          return;
        }
        setTimeout(() => poll(el), 1500);
      })
      .catch(() => setTimeout(() => poll(el), 5000));
  }
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-job-id]").forEach(poll);
    document.querySelectorAll("form.js-cancel").forEach((form) => {
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const token = form.querySelector("[name=csrfmiddlewaretoken]").value;
        fetch(form.action, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": token } })
          .then(() => window.location.reload());
      });
    });
  });
})();
