// The reference dashboard: sign-in, the list of recordings and one recording, all over GraphQL.
import { ApiError, request, signIn, signOut, subscribe, token } from "./graphql.js";
import { h, notice, clock, when } from "./dom.js";
import { showRecording } from "./recording.js";

const main = document.getElementById("main");
const STATUSES = ["pending", "analyzing", "analyzed", "failed"];
const PAGE = 20;

/** Read what the fragment carries (``#token=``, ``#t=``, ``#uploadToken=``) and drop the secrets
 * from the address bar: the fragment never reaches the server, and should not stay in history. */
function readFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const found = { t: params.get("t"), uploadToken: params.get("uploadToken") };
  const given = params.get("token");
  if (given) signIn(given);
  if (given || found.uploadToken) {
    params.delete("token");
    params.delete("uploadToken");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
  return found;
}

function signInForm(message) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true });
  const form = h("form", { class: "sign-in", "aria-labelledby": "sign-in-title" },
    h("h2", { id: "sign-in-title" }, "Sign in"),
    message ? h("p", { class: "notice error", role: "alert" }, message) : null,
    h("label", { for: "token" }, "Access token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
    h("p", { class: "hint" }, "An access token comes from your identity provider; for a local service, ",
      h("code", {}, "recordings token USER"), " prints one."));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(input.value);
    route();
  });
  main.replaceChildren(form);
  input.focus();
}

function header() {
  const nav = document.getElementById("account");
  nav.replaceChildren(token()
    ? h("button", { type: "button", class: "link", onclick: () => { signOut(); location.assign("/"); } }, "Sign out")
    : "");
}

/** Show an API failure in place of the page; a bad token leads back to the sign-in form. */
export function failed(error) {
  if (error instanceof ApiError && error.kind === "unauthenticated") {
    signOut();
    header();
    signInForm(error.message);
    return;
  }
  const title = error instanceof ApiError && error.kind === "unreachable" ? "The service cannot be reached"
    : error instanceof ApiError && error.kind === "unavailable" ? "The service is briefly unavailable"
      : "Something went wrong";
  main.replaceChildren(notice("error", title, error.message,
    h("button", { type: "button", onclick: () => route() }, "Try again")));
}

const LIST = `query Recordings($first: Int!, $after: String, $status: RecordingStatus) {
  recordings(first: $first, after: $after, status: $status) {
    totalCount
    edges { node { id title url status createdAt duration summary { keyFindings } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const UPDATES = `subscription { recordingUpdates { recordingId status } }`;

async function showList() {
  const state = { status: new URLSearchParams(location.search).get("status") || "", cursors: [null] };
  const filter = h("select", { id: "status-filter" },
    h("option", { value: "" }, "All"),
    ...STATUSES.map((s) => h("option", { value: s, selected: s === state.status }, s)));
  const count = h("p", { class: "count", "aria-live": "polite" });
  const list = h("ul", { class: "recordings", "aria-label": "Recordings" });
  const previous = h("button", { type: "button", disabled: true }, "Previous page");
  const next = h("button", { type: "button", disabled: true }, "Next page");
  main.replaceChildren(
    h("div", { class: "toolbar" }, h("h2", {}, "Recordings"),
      h("label", { for: "status-filter" }, "Status"), filter, count),
    list,
    h("nav", { class: "pages", "aria-label": "Pages" }, previous, next));

  async function load() {
    const after = state.cursors[state.cursors.length - 1];
    const data = await request(LIST, { first: PAGE, after, status: state.status || null });
    const page = data.recordings;
    count.textContent = `${page.totalCount} recording${page.totalCount === 1 ? "" : "s"}`;
    list.replaceChildren(...(page.edges.length ? page.edges.map(({ node }) => row(node))
      : [h("li", { class: "empty" }, state.status ? `No ${state.status} recordings.` : "No recordings yet.")]));
    previous.disabled = state.cursors.length <= 1;
    next.disabled = !page.pageInfo.hasNextPage;
    next.onclick = () => { state.cursors.push(page.pageInfo.endCursor); refresh(); };
    previous.onclick = () => { state.cursors.pop(); refresh(); };
  }
  const refresh = () => load().catch(failed);
  filter.addEventListener("change", () => {
    state.status = filter.value;
    state.cursors = [null];
    history.replaceState(null, "", state.status ? `/?status=${state.status}` : "/");
    refresh();
  });
  await load();
  let pending = null;
  subscribe(UPDATES, {}, {
    onData: () => { // a status changed: show the list as it stands now
      clearTimeout(pending);
      pending = setTimeout(refresh, 150);
    },
    onError: () => {},
  });
}

function row(recording) {
  const finding = recording.summary && recording.summary.keyFindings[0];
  return h("li", { class: "recording", dataset: { id: recording.id, status: recording.status } },
    h("a", { href: `/recordings/${recording.id}` }, recording.title || recording.url || recording.id),
    h("span", { class: `status ${recording.status}` }, recording.status),
    h("span", { class: "when" }, when(recording.createdAt)),
    h("span", { class: "duration" }, recording.duration === null ? "" : clock(recording.duration)),
    finding ? h("span", { class: "finding" }, finding) : null);
}

export async function route() {
  const fragment = readFragment();
  header();
  if (!token() && !fragment.uploadToken && !location.pathname.startsWith("/recordings/")) {
    signInForm();
    return;
  }
  try {
    const match = location.pathname.match(/^\/recordings\/([^/]+)\/?$/);
    if (match) {
      await showRecording(main, decodeURIComponent(match[1]), fragment, { failed, signInForm });
    } else if (location.pathname === "/") {
      await showList();
    } else {
      main.replaceChildren(notice("error", "Not found", "There is no such page.",
        h("a", { href: "/" }, "Back to the recordings")));
    }
  } catch (error) {
    failed(error);
  }
}

window.addEventListener("hashchange", () => route());
route();
