// The dashboard's demo story: steward.js polls the story's job; each update redraws the steps from job.details.
document.addEventListener("job-update", (ev) => {
  const card = ev.target.closest(".demo-story");
  if (!card) return;
  const steps = (ev.detail.details || {}).steps || {};
  card.querySelectorAll("[data-step]").forEach((li) => {
    const step = steps[li.dataset.step];
    const status = li.querySelector(".step-status");
    if (!step || !status) return;
    status.textContent = step.status;
    status.className = `step-status job-status status-${step.status === "done" ? "succeeded" : step.status}`;
    const seconds = li.querySelector(".step-seconds");
    if (seconds && step.seconds != null) seconds.textContent = ` (${step.seconds} s)`;
  });
});
