// The dashboard's only way to the API: GraphQL queries and mutations over HTTP, subscriptions
// over graphql-transport-ws (the vendored graphql-ws client).
import { createClient } from "./vendor/graphql-ws/client.js";

const TOKEN_KEY = "recordings.token";

/** The access token of this browser tab (kept in sessionStorage, never sent to the server in a URL). */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
  closeSubscriptions();
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  closeSubscriptions();
}

/** A failure the page explains to the person: why, and whether signing in again helps. */
export class ApiError extends Error {
  constructor(message, { kind = "error", status = null } = {}) {
    super(message);
    this.kind = kind; // "unauthenticated", "unreachable", "unavailable", "error"
    this.status = status;
  }
}

function headers(extra = {}) {
  const out = { "Content-Type": "application/json", ...extra };
  const value = token();
  if (value) out.Authorization = `Bearer ${value}`;
  return out;
}

/** Run a query or mutation; resolves to its data, rejects with an ApiError. */
export async function request(query, variables = {}, { uploadToken } = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: headers(uploadToken ? { "X-Upload-Token": uploadToken } : {}),
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("The service cannot be reached. Check your connection and try again.", {
      kind: "unreachable",
    });
  }
  if (response.status === 401) {
    throw new ApiError("Your access token is invalid or has expired. Sign in again.", {
      kind: "unauthenticated",
      status: 401,
    });
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The service answered ${response.status} without a readable body.`, {
      status: response.status,
    });
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    const code = first.extensions && first.extensions.code;
    if (code === "UNAVAILABLE") {
      throw new ApiError("The service is briefly unavailable; retrying shortly may help.", {
        kind: "unavailable",
      });
    }
    if (/sign in/i.test(first.message)) {
      throw new ApiError("Sign in to see your recordings.", { kind: "unauthenticated" });
    }
    throw new ApiError(first.message);
  }
  return body.data;
}

let client = null;

function wsClient() {
  if (client === null) {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    client = createClient({
      url,
      lazy: true,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      connectionParams: () => {
        const value = token();
        const params = value ? { Authorization: `Bearer ${value}` } : {};
        if (currentUploadToken) params["X-Upload-Token"] = currentUploadToken;
        return params;
      },
    });
  }
  return client;
}

let currentUploadToken = null;

/** The upload token presented beside the access token (a recording opened with one). */
export function useUploadToken(value) {
  if (value !== currentUploadToken) {
    currentUploadToken = value;
    closeSubscriptions();
  }
}

export function closeSubscriptions() {
  if (client !== null) {
    client.dispose();
    client = null;
  }
}

/** Subscribe; ``onData`` gets each event's data, ``onError`` an ApiError. Returns the stop function. */
export function subscribe(query, variables, { onData, onError = () => {}, onComplete = () => {} }) {
  return wsClient().subscribe(
    { query, variables },
    {
      next: (message) => {
        if (message.errors && message.errors.length) {
          onError(new ApiError(message.errors[0].message));
        } else {
          onData(message.data);
        }
      },
      error: (error) => {
        const closed = error && typeof error.code === "number";
        onError(
          new ApiError(
            closed && error.code === 4403
              ? "Your access token is invalid or has expired. Sign in again."
              : "Live updates were interrupted.",
            { kind: closed && error.code === 4403 ? "unauthenticated" : "unreachable" },
          ),
        );
      },
      complete: onComplete,
    },
  );
}
