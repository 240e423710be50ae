// One recording: its video with a timeline, findings with their evidence, sections, transcript,
// keyframes, console and network logs, and the analysis run live from here.
import { request, subscribe, token, useUploadToken } from "./graphql.js";
import { h, notice, clock, when } from "./dom.js";

const EVIDENCE = `id type timestamp endTimestamp text
  request { method url status durationMs }
  console { level message }
  action { action selector text }
  speech { text }
  screenText { text box { x y width height } }
  frame { timestamp thumbnailUrl }`;

const RECORDING = `query Recording($id: ID!) {
  recording(id: $id) {
    id title url status videoUploadStatus claimed createdAt duration intent videoUrl metadata
    consoleLogs networkRequests
    analysis { jobId status stage progress error }
    currentAnalysis {
      jobId
      video { width height duration }
      sections { title timestamp endTimestamp description }
      findings { kind title severity timestamp confidence evidence { ${EVIDENCE} } }
      frames { timestamp description thumbnailUrl }
      transcript { start end text }
    }
    summary { summary keyFindings }
  }
}`;

const PROGRESS = `subscription Progress($id: ID!) {
  analysisProgress(recordingId: $id) { jobId status stage progress message etaSeconds }
}`;

const ANALYZE = `mutation Analyze($id: ID!) { analyzeRecording(id: $id) {
  __typename ... on AnalyzeRecordingPayload { jobId }
  ... on ConflictError { message } ... on NotFoundError { message } ... on UnauthenticatedError { message } } }`;

const DELETE = `mutation Delete($id: ID!) { deleteRecording(id: $id) {
  __typename ... on NotFoundError { message } ... on UnauthenticatedError { message } } }`;

const CLAIM = `mutation Claim($id: ID!) { claimRecording(id: $id) {
  __typename ... on NotFoundError { message } ... on ConflictError { message } ... on UnauthenticatedError { message } } }`;

const SLOW_MS = 1000;

export async function showRecording(main, id, fragment, { failed, signInForm }) {
  const uploadKey = `recordings.upload.${id}`;
  if (fragment.uploadToken) sessionStorage.setItem(uploadKey, fragment.uploadToken);
  const uploadToken = sessionStorage.getItem(uploadKey);
  if (!token() && !uploadToken) {
    signInForm();
    return;
  }
  useUploadToken(uploadToken);
  const options = { uploadToken };
  const data = await request(RECORDING, { id }, options);
  const recording = data.recording;
  if (recording === null) {
    main.replaceChildren(notice("error", "Recording not found",
      "It does not exist, was deleted, or is not yours.", h("a", { href: "/" }, "Back to the recordings")));
    return;
  }
  const page = new RecordingPage(main, recording, options, failed);
  page.render(fragment.t === null ? null : Number(fragment.t));
  page.follow();
}

class RecordingPage {
  constructor(main, recording, options, failed) {
    this.main = main;
    this.recording = recording;
    this.options = options;
    this.failed = failed;
    this.stop = null;
  }

  render(startAt) {
    const r = this.recording;
    const analysis = r.currentAnalysis;
    const duration = (analysis && analysis.video && analysis.video.duration) || r.duration || 0;
    this.duration = duration;
    this.video = h("video", { controls: true, preload: "metadata", src: r.videoUrl || null,
      "aria-label": "The recording's video" });
    if (startAt !== null && !Number.isNaN(startAt)) {
      const seek = () => this.seek(startAt);
      if (this.video.readyState >= 1) seek();
      else this.video.addEventListener("loadedmetadata", seek, { once: true });
    }
    this.evidence = h("section", { class: "evidence", "aria-live": "polite", "aria-label": "Evidence" });
    this.progress = this.progressBar();
    const analyzeLabel = r.currentAnalysis ? "Re-analyze" : "Analyze";
    this.analyzeButton = h("button", { type: "button", onclick: () => this.analyze(),
      disabled: r.videoUploadStatus !== "uploaded" }, analyzeLabel);
    this.message = h("p", { class: "message", role: "status" });
    const actions = h("div", { class: "actions" },
      this.analyzeButton,
      h("button", { type: "button", class: "danger", onclick: () => this.remove() }, "Delete"),
      !r.claimed && token() && this.options.uploadToken
        ? h("button", { type: "button", onclick: () => this.claim() }, "Claim") : null);
    const transcript = analysis ? analysis.transcript : [];
    this.transcript = transcript;
    this.transcriptItems = transcript.map((s) => h("li", {},
      h("button", { type: "button", class: "seek", onclick: () => this.seek(s.start) },
        h("span", { class: "time" }, clock(s.start)), " ", s.text)));
    this.main.replaceChildren(
      h("nav", { class: "crumbs" }, h("a", { href: "/" }, "← Recordings")),
      h("header", { class: "recording-header" },
        h("h2", {}, r.title || r.url || r.id),
        h("p", { class: "meta" }, h("span", { class: `status ${r.status}` }, r.status), " ",
          when(r.createdAt), r.url ? [" · ", h("span", { class: "url" }, r.url)] : null),
        r.intent ? h("p", { class: "intent" }, "Intent: ", r.intent) : null),
      actions, this.progress.element, this.message,
      h("div", { class: "player" }, this.video, this.timeline(analysis, duration)),
      r.summary ? h("section", { class: "summary", "aria-label": "Summary" },
        h("h3", {}, "Summary"), h("p", {}, r.summary.summary)) : null,
      h("div", { class: "columns" },
        h("section", { "aria-label": "Findings" }, h("h3", {}, "Findings"), this.findings(analysis)),
        this.evidence),
      analysis ? h("section", { "aria-label": "Sections" }, h("h3", {}, "Sections"),
        h("ol", { class: "sections" }, ...analysis.sections.map((s) => h("li", {},
          h("button", { type: "button", class: "seek", onclick: () => this.seek(s.timestamp) },
            h("span", { class: "time" }, clock(s.timestamp)), " ", h("strong", {}, s.title)),
          h("p", {}, s.description))))) : null,
      analysis && analysis.frames.length ? h("section", { "aria-label": "Keyframes" }, h("h3", {}, "Keyframes"),
        h("ol", { class: "keyframes" }, ...analysis.frames.map((f) => h("li", {},
          h("button", { type: "button", class: "seek", onclick: () => this.seek(f.timestamp),
            "aria-label": `Seek to ${clock(f.timestamp)}: ${f.description}` },
          f.thumbnailUrl ? h("img", { src: f.thumbnailUrl, alt: f.description, loading: "lazy" }) : null,
          h("span", { class: "time" }, clock(f.timestamp))))))) : null,
      transcript.length ? h("section", { "aria-label": "Transcript" }, h("h3", {}, "Transcript"),
        h("ol", { class: "transcript" }, ...this.transcriptItems)) : null,
      this.logs(r));
    this.video.addEventListener("timeupdate", () => this.followTranscript(transcript));
    if (r.analysis && ["queued", "running"].includes(r.analysis.status)) {
      this.progress.show({ progress: r.analysis.progress, stage: r.analysis.stage, etaSeconds: null });
    }
  }

  seek(seconds) {
    const target = Math.max(0, Number(seconds) || 0);
    this.video.currentTime = target;
    this.followTranscript(this.transcript, target); // at once, not when the frame has loaded
    history.replaceState(null, "", `${location.pathname}#t=${target.toFixed(1)}`);
  }

  timeline(analysis, duration) {
    const bar = h("div", { class: "timeline", role: "group", "aria-label": "Timeline" });
    if (!analysis || !duration) return bar;
    const at = (t) => `${Math.min(100, Math.max(0, (t / duration) * 100))}%`;
    for (const s of analysis.sections) {
      bar.append(h("button", { type: "button", class: "section-mark", title: s.title,
        style: `left:${at(s.timestamp)};width:calc(${at(s.endTimestamp - s.timestamp)} - 2px)`,
        "aria-label": `Section at ${clock(s.timestamp)}: ${s.title}`, onclick: () => this.seek(s.timestamp) }));
    }
    for (const f of analysis.findings) {
      bar.append(h("button", { type: "button", class: `finding-mark ${f.severity}`, style: `left:${at(f.timestamp)}`,
        title: f.title, "aria-label": `Finding at ${clock(f.timestamp)}: ${f.title}`,
        onclick: () => this.open(f) }));
    }
    return bar;
  }

  findings(analysis) {
    if (!analysis) return h("p", { class: "empty" }, "Not analysed yet.");
    if (!analysis.findings.length) return h("p", { class: "empty" }, "No findings.");
    return h("ol", { class: "findings" }, ...analysis.findings.map((f) => h("li", {},
      h("button", { type: "button", class: `finding ${f.severity}`, onclick: () => this.open(f) },
        h("span", { class: "time" }, clock(f.timestamp)), " ", f.title,
        h("span", { class: "badge" }, `${f.severity} · ${f.confidence}`)))));
  }

  open(finding) {
    this.seek(finding.timestamp);
    const video = this.recording.currentAnalysis.video;
    this.evidence.replaceChildren(h("h3", {}, "Evidence"), h("p", { class: "finding-title" }, finding.title),
      h("ul", {}, ...finding.evidence.map((e) => h("li", { class: `evidence-item ${e.type}` },
        h("button", { type: "button", class: "seek", onclick: () => this.seek(e.timestamp) },
          h("span", { class: "time" }, clock(e.timestamp))), " ", describe(e, video)))));
  }

  followTranscript(transcript, now = this.video.currentTime) {
    transcript.forEach((s, i) => {
      const current = now >= s.start && now < s.end;
      const item = this.transcriptItems[i];
      if (current && !item.classList.contains("current")) {
        item.classList.add("current");
        item.setAttribute("aria-current", "true");
        item.scrollIntoView({ block: "nearest" });
      } else if (!current && item.classList.contains("current")) {
        item.classList.remove("current");
        item.removeAttribute("aria-current");
      }
    });
  }

  logs(recording) {
    const started = recording.metadata && typeof recording.metadata.startedAt === "number"
      ? recording.metadata.startedAt : null;
    const seconds = (timestamp) => {
      if (typeof timestamp !== "number") return null;
      return started !== null && timestamp >= started ? (timestamp - started) / 1000 : timestamp / 1000;
    };
    const consoleRows = (recording.consoleLogs || []).map((entry) => {
      const level = String(entry.level || entry.type || "log");
      const t = seconds(entry.timestamp);
      return h("tr", { class: level === "error" ? "failed" : null },
        h("td", {}, t === null ? "" : h("button", { type: "button", class: "seek", onclick: () => this.seek(t) }, clock(t))),
        h("td", {}, level), h("td", {}, typeof entry.message === "string" ? entry.message : JSON.stringify(entry.message)));
    });
    const networkRows = (recording.networkRequests || []).map((entry) => {
      const status = entry.status === undefined ? null : entry.status;
      const failedRow = status === null || status === 0 || status >= 400;
      const given = typeof entry.durationMs === "number" ? entry.durationMs : entry.duration;
      const ms = typeof given === "number" ? given : null;
      const t = seconds(entry.timestamp);
      return h("tr", { class: failedRow ? "failed" : ms !== null && ms >= SLOW_MS ? "slow" : null },
        h("td", {}, t === null ? "" : h("button", { type: "button", class: "seek", onclick: () => this.seek(t) }, clock(t))),
        h("td", {}, entry.method || "GET"), h("td", { class: "url" }, entry.url || ""),
        h("td", {}, status === null ? "no response" : String(status)), h("td", {}, ms === null ? "" : `${Math.round(ms)} ms`));
    });
    const table = (label, head, rows) => h("section", { "aria-label": label }, h("h3", {}, label),
      rows.length ? h("table", {}, h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ...rows)) : h("p", { class: "empty" }, "Nothing recorded."));
    return h("div", { class: "logs" },
      table("Console", ["Time", "Level", "Message"], consoleRows),
      table("Network", ["Time", "Method", "URL", "Status", "Duration"], networkRows));
  }

  progressBar() {
    const bar = h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-valuenow": "0", "aria-label": "Analysis progress" }, h("span", { class: "fill" }));
    const label = h("span", { class: "progress-label" });
    const element = h("div", { class: "progress", hidden: true }, bar, label);
    const shown = { job: null, percent: 0 };
    return {
      element,
      show: ({ jobId, progress, stage, etaSeconds }) => {
        const percent = Math.round((progress || 0) * 100);
        // One analysis's bar only moves forward, whichever answer arrives first (the mutation's
        // or the subscription's).
        if (jobId && jobId === shown.job && percent < shown.percent) return;
        if (jobId) Object.assign(shown, { job: jobId, percent });
        element.hidden = false;
        bar.setAttribute("aria-valuenow", String(percent));
        const eta = typeof etaSeconds === "number" ? ` · about ${Math.max(1, Math.round(etaSeconds))} s left` : "";
        bar.setAttribute("aria-valuetext", `${percent}% ${stage || ""}${eta}`.trim());
        bar.firstChild.style.width = `${percent}%`;
        label.textContent = `${percent}% · ${stage || "waiting"}${eta}`;
      },
      hide: () => { element.hidden = true; },
    };
  }

  /** Follow the analysis live: progress while it runs, the new results when it ends. */
  follow() {
    if (this.stop) this.stop();
    this.stop = subscribe(PROGRESS, { id: this.recording.id }, {
      onData: ({ analysisProgress: event }) => {
        if (event.status === "analyzing") {
          this.progress.show(event);
          this.analyzeButton.disabled = true;
        } else if (event.status === "analyzed" && event.jobId && event.jobId !== this.shownJob()) {
          this.progress.show({ ...event, progress: 1 });
          this.reload();
        } else if (event.status === "failed" && event.jobId) {
          this.progress.hide();
          this.message.textContent = `The analysis failed: ${event.message}`;
          this.analyzeButton.disabled = false;
        }
      },
      onError: (error) => { this.message.textContent = error.message; },
      onComplete: () => { this.stop = null; },
    });
  }

  shownJob() {
    return this.recording.currentAnalysis ? this.recording.currentAnalysis.jobId : null;
  }

  async reload() {
    const keepTime = this.video.currentTime;
    try {
      const data = await request(RECORDING, { id: this.recording.id }, this.options);
      if (data.recording === null) return;
      this.recording = data.recording;
      this.render(keepTime || null);
      this.message.textContent = this.recording.status === "analyzed" ? "The analysis finished." : "";
    } catch (error) {
      this.failed(error);
    }
  }

  async analyze() {
    this.message.textContent = "";
    this.analyzeButton.disabled = true;
    try {
      const result = (await request(ANALYZE, { id: this.recording.id }, this.options)).analyzeRecording;
      if (result.__typename !== "AnalyzeRecordingPayload") {
        this.message.textContent = result.message;
        this.analyzeButton.disabled = false;
        return;
      }
      this.progress.show({ jobId: result.jobId, progress: 0, stage: "queued", etaSeconds: null });
      if (!this.stop) this.follow();
    } catch (error) {
      this.analyzeButton.disabled = false;
      this.failed(error);
    }
  }

  async remove() {
    if (!window.confirm("Delete this recording, its video and its analysis? This cannot be undone.")) return;
    try {
      const result = (await request(DELETE, { id: this.recording.id }, this.options)).deleteRecording;
      if (result.__typename === "DeleteRecordingPayload") {
        location.assign("/");
      } else {
        this.message.textContent = result.message;
      }
    } catch (error) {
      this.failed(error);
    }
  }

  async claim() {
    try {
      const result = (await request(CLAIM, { id: this.recording.id }, this.options)).claimRecording;
      if (result.__typename === "ClaimRecordingPayload") {
        await this.reload();
        this.message.textContent = "The recording is yours now.";
      } else {
        this.message.textContent = result.message;
      }
    } catch (error) {
      this.failed(error);
    }
  }
}

/** One piece of evidence, as a person reads it. */
function describe(e, video) {
  if (e.request) {
    const r = e.request;
    return h("span", {}, h("code", {}, `${r.method} ${r.url}`), " → ",
      h("strong", {}, r.status ? String(r.status) : "no response"),
      r.durationMs !== null && r.durationMs !== undefined ? ` in ${r.durationMs} ms` : "");
  }
  if (e.console) return h("span", {}, h("span", { class: "level" }, `console ${e.console.level}: `), h("code", {}, e.console.message));
  if (e.speech) return h("q", {}, e.speech.text);
  if (e.screenText) {
    const shown = h("span", {}, "On screen: ", h("q", {}, e.screenText.text));
    if (!e.frame || !e.frame.thumbnailUrl) return shown;
    return h("span", {}, shown, frameWithBox(e.frame, e.screenText.box, video));
  }
  if (e.frame && e.frame.thumbnailUrl) return h("span", {}, e.text, frameWithBox(e.frame, null, video));
  return h("span", {}, e.text);
}

/** The keyframe's thumbnail with the box of the text drawn on it (boxes are in video pixels). */
function frameWithBox(frame, box, video) {
  const figure = h("figure", { class: "frame" });
  const img = h("img", { src: frame.thumbnailUrl, alt: `The screen at ${clock(frame.timestamp)}` });
  figure.append(img);
  if (box && video && video.width) {
    figure.append(h("span", { class: "box", "aria-hidden": "true", style: [
      `left:${(box.x / video.width) * 100}%`, `top:${(box.y / video.height) * 100}%`,
      `width:${(box.width / video.width) * 100}%`, `height:${(box.height / video.height) * 100}%`].join(";") }));
  }
  return figure;
}
