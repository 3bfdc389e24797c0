// Signing the page in: a one-time login code becomes a sign-in token for this tab, which mints
// the short-lived client secrets that open the realtime link and the HTTP API.

// Credentials live here, not in `state`: `state` is shown as window.parley (for devtools and the
// browser tests), and a page must not expose what opens the API.
export const credentials = { loginCode: null, signIn: null, clientSecret: null };
export function readLoginCode() {
  const params = new URLSearchParams(location.search);
  credentials.loginCode = params.get("login");
  if (credentials.loginCode) history.replaceState(null, "", location.pathname); // one use; out of the address bar
  credentials.signIn = sessionStorage.getItem("parley-sign-in");
}
export const SIGNED_OUT = "Sign in again: run `parley login` on the server's machine and open the address it prints.";
export async function post(path, token, body) {
  try {
    return await fetch(path, {
      method: "POST", headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (error) {
    throw Object.assign(new Error("Parley's server is not reachable. Is `make run` still running?"), { retry: true });
  }
}
export async function signIn() {
  // A one-time login code becomes a browser sign-in token (kept for this tab only).
  const response = await post("/v1/login", null, { code: credentials.loginCode });
  credentials.loginCode = null;
  if (response.status === 401) {
    const reason = (await response.json().catch(() => ({})))?.error?.message || "the login code was refused";
    throw Object.assign(new Error(`The login address was refused (${reason}). ${SIGNED_OUT}`), { retry: false });
  }
  if (!response.ok) throw Object.assign(new Error(`The server answered ${response.status}.`), { retry: true });
  credentials.signIn = (await response.json()).value;
  sessionStorage.setItem("parley-sign-in", credentials.signIn);
}
export async function mintToken() {
  if (credentials.loginCode) await signIn();
  const response = await post("/v1/realtime/client_secrets", credentials.signIn, {});
  if (response.status === 401) {
    sessionStorage.removeItem("parley-sign-in");
    credentials.signIn = null;
    throw Object.assign(new Error(`The sign-in was refused or has expired. ${SIGNED_OUT}`), { retry: false });
  }
  if (!response.ok) throw Object.assign(new Error(`The server answered ${response.status}.`), { retry: true });
  credentials.clientSecret = (await response.json()).value;
}
export async function api(path, options = {}, isRetry = false) {
  const response = await fetch(path, { ...options, headers: { Authorization: `Bearer ${credentials.clientSecret}`, "Content-Type": "application/json", ...(options.headers || {}) } });
  if (response.status === 401 && !isRetry) { // client secrets are short-lived: mint another once
    await mintToken();
    return api(path, options, true);
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}
