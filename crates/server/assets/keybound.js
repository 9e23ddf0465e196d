// keybound's pages: the WebAuthn calls and the passkey-provider signals.
// Everything else (lists, rename, revoke, sign-out) is plain HTML forms.
// The server's ceremony API speaks the WebAuthn Level 3 JSON shapes, so this
// uses the browser's JSON helpers and falls back to a small conversion where
// they are missing.
"use strict";

(function () {
  // ---- base64url and the L3 JSON helpers, with a fallback ----------------

  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: toBytes(d.id) }));
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      response.userHandle = r.userHandle ? toB64url(r.userHandle) : null;
    }
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  // ---- talking to the server and to the person ---------------------------

  class Failure extends Error {
    constructor(message, reply) {
      super(message || "");
      this.reply = reply || {};
    }
  }

  // Why a ceremony was refused, for the refusals a person can act on: the
  // server sends one of these codes (reply.rs, REASON_CODES) and nothing
  // else; any other refusal gets the caller's generic message.
  const REASONS = {
    tier_too_low:
      "This passkey does not meet the security level required here. Use a security key, or a passkey that stays on one device, with a PIN or biometric.",
    authenticator_not_allowed:
      "This kind of authenticator is not accepted here. Use another device or security key, or ask your administrator which ones are.",
    credential_quarantined:
      "This passkey is blocked while an administrator checks it (it may have been copied). Sign in with another passkey, or contact your administrator.",
    invitation_used_or_expired:
      "This invitation was used or has expired. Ask the person who invited you for a new one.",
    session_ended: "You were signed out in the meantime. Sign in again, then try again.",
    too_many_passkeys:
      "Your account holds as many passkeys as allowed. Revoke one you no longer use, then try again.",
    user_verification_required:
      "This site needs your device to check it is you (a PIN, fingerprint or face). Set one up on the device, or use another.",
    timed_out: "This took too long, or was started in another tab. Try again.",
    // "Trust this device" (/me): the device must make a key of its own.
    device_synced:
      "That key is synced by a passkey provider (it is on your other devices too), so it cannot stand for this device. Use the device's own screen lock (Windows Hello, Touch ID, or the phone's own lock) instead of a password manager.",
    device_roaming:
      "That was a security key, which goes from device to device, so it cannot stand for this device. Use the device's own screen lock (Windows Hello, Touch ID, or the phone's own lock); your security key stays one of your passkeys.",
    device_already_enrolled:
      "This device is already one of your devices: see \u201cYour devices\u201d below.",
    too_many_devices:
      "You have as many devices as allowed. Use \u201cI lost this device\u201d on one you no longer use, then try again.",
    invalid_device_label:
      "A device name is 1 to 64 characters, without control characters.",
  };

  async function post(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (e) {
      throw new Failure("The server could not be reached. Check your connection and try again.");
    }
    let reply = {};
    try {
      reply = await response.json();
    } catch (e) {
      reply = {};
    }
    if (response.status === 429) {
      throw new Failure("Too many attempts. Wait a minute, then try again.", reply);
    }
    if (!response.ok || reply.status !== "ok") {
      throw new Failure(
        REASONS[reply.reason],
        Object.assign({ httpStatus: response.status }, reply)
      );
    }
    return reply;
  }

  function say(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text || "";
  }

  function showError(text) {
    say("notice", "");
    say("error", text);
  }

  // What a person can cause, in words they can act on. The browser reports
  // a cancelled prompt and "no passkey for this site on this device" with
  // the same NotAllowedError, on purpose (so sites cannot probe), so one
  // message covers both.
  function explain(error, fallback) {
    if (error instanceof Failure) return error.message || fallback;
    switch (error && error.name) {
      case "NotAllowedError":
        return "The passkey prompt was closed or timed out, or this device has no passkey for this site. Try again, or use another device or security key.";
      case "InvalidStateError":
        return "This authenticator already holds a passkey for your account. Use another device or security key.";
      case "SecurityError":
        return "This page's address does not match the site's configuration. Contact your administrator.";
      case "NotSupportedError":
        return "This browser or authenticator does not support any of the key types this site accepts.";
      default:
        return fallback;
    }
  }

  // ---- provider signals (feature-detected, best effort) ------------------

  async function signal(method, options) {
    if (typeof PublicKeyCredential === "undefined") return;
    const fn = PublicKeyCredential[method];
    if (typeof fn !== "function") return;
    try {
      await fn.call(PublicKeyCredential, options);
    } catch (e) {
      // A provider that cannot take the hint is no reason to bother anyone.
    }
  }

  function siteRpId() {
    const el = document.getElementById("site") || document.getElementById("account");
    return el ? el.dataset.rpId : location.hostname;
  }

  // ---- sign in -----------------------------------------------------------

  let conditional = null;

  // Where to go after signing in: the address the server checked and put
  // in the page (data-return), never one the script read from the URL.
  function toMe() {
    const site = document.getElementById("site");
    location.assign((site && site.dataset.return) || "/me");
  }

  async function finishSignIn(credential, done) {
    const json = credentialJSON(credential);
    try {
      await post("/assertion/result", json);
    } catch (e) {
      if (e instanceof Failure && e.reply.unknownCredential) {
        const told = typeof PublicKeyCredential.signalUnknownCredential === "function";
        await signal("signalUnknownCredential", { rpId: siteRpId(), credentialId: json.id });
        throw new Failure(
          "This passkey is no longer registered here (it may have been revoked)." +
            (told ? " Your device was asked to forget it." : "") +
            " Sign in with another passkey."
        );
      }
      throw new Failure(e.message || "Sign-in failed. Try again, or use another passkey.");
    }
    (done || toMe)();
  }

  // Signs in (or, signed in already, steps up), then `done` (default: /me).
  async function signIn(username, done) {
    if (conditional) conditional.abort();
    showError("");
    try {
      const options = await post("/assertion/options", { username: username || "" });
      delete options.status;
      delete options.errorMessage;
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
      await finishSignIn(credential, done);
    } catch (e) {
      showError(explain(e, "Sign-in failed. Try again, or use another passkey."));
      startAutofill();
    }
  }

  // Passkey autofill: a pending conditional request that the browser
  // offers from the username field's suggestions.
  async function startAutofill() {
    if (!document.getElementById("username")) return;
    if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
    if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
    const controller = new AbortController();
    conditional = controller;
    try {
      const options = await post("/assertion/options", { username: "" });
      delete options.status;
      delete options.errorMessage;
      const credential = await navigator.credentials.get({
        mediation: "conditional",
        publicKey: requestOptions(options),
        signal: controller.signal,
      });
      conditional = null;
      await finishSignIn(credential);
    } catch (e) {
      if (controller.signal.aborted || (e && e.name === "AbortError")) return;
      conditional = null;
      showError(explain(e, "Sign-in failed. Try again, or use another passkey."));
    }
  }

  function signInPage() {
    const form = document.getElementById("signin-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      signIn(document.getElementById("username").value.trim());
    });
    document.getElementById("signin-passkey").addEventListener("click", () => signIn(""));
    startAutofill();
  }

  // ---- enrol and add -----------------------------------------------------

  async function register(request, next) {
    showError("");
    try {
      const options = await post("/attestation/options", request);
      delete options.status;
      delete options.errorMessage;
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
      const json = credentialJSON(credential);
      try {
        await post("/attestation/result", json);
      } catch (e) {
        // The device made a key the server refused: the provider should
        // not keep offering it.
        if (e instanceof Failure && e.reply.status === "failed") {
          await signal("signalUnknownCredential", { rpId: siteRpId(), credentialId: json.id });
        }
        throw e;
      }
      location.assign(next);
    } catch (e) {
      if (e instanceof Failure && e.reply.errorMessage === "sign in again first") {
        // Adding a passkey needs a recent sign-in: offer the step-up.
        location.assign("/me?notice=step-up");
        return;
      }
      if (e instanceof Failure && e.reply.httpStatus === 403) {
        showError("This can no longer be done from this page: the invitation was used or has expired, or you were signed out. Reload the page.");
        return;
      }
      showError(explain(e, "The passkey could not be registered. Try again."));
    }
  }

  function enrollPage() {
    const button = document.getElementById("enroll-passkey");
    if (!button) return;
    button.addEventListener("click", () =>
      register(
        { token: button.dataset.token, username: button.dataset.username },
        "/me?notice=enrolled"
      )
    );
  }

  // ---- trust this device ---------------------------------------------------

  // "Trust this device": a key of the device's own (platform authenticator,
  // user verification, not synced), made with the server's options and
  // checked by it. The server says whether the device is trusted at once
  // or waits for an administrator; the page only picks the notice.
  async function trustDevice() {
    // Said beside the button the person pressed, not at the top.
    const showError = (text) => {
      say("notice", "");
      say("error", "");
      say("device-error", text);
    };
    showError("");
    const field = document.getElementById("device-label");
    const label = field ? field.value.trim() : "";
    if (!label) {
      showError("Give this device a name first, such as \u201cWork laptop\u201d.");
      if (field) field.focus();
      return;
    }
    try {
      const options = await post("/me/devices/options", { label });
      delete options.status;
      delete options.errorMessage;
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
      const json = credentialJSON(credential);
      let reply;
      try {
        reply = await post("/me/devices/result", json);
      } catch (e) {
        // The device made a key the server refused: it should not keep it.
        if (e instanceof Failure && e.reply.status === "failed") {
          await signal("signalUnknownCredential", { rpId: siteRpId(), credentialId: json.id });
        }
        throw e;
      }
      location.assign(reply.trusted ? "/me?notice=device-trusted" : "/me?notice=device-awaiting");
    } catch (e) {
      if (e instanceof Failure && e.reply.errorMessage === "sign in again first") {
        location.assign("/me?notice=step-up");
        return;
      }
      if (e instanceof Failure && e.reply.httpStatus === 403) {
        showError("You were signed out in the meantime. Reload the page and sign in again.");
        return;
      }
      switch (e && e.name) {
        case "InvalidStateError":
          return showError(REASONS.device_already_enrolled);
        case "NotAllowedError":
          return showError(
            "The prompt was closed or timed out, or this device has no screen lock that can make a key of its own (Windows Hello, Touch ID, or the phone's own lock). Try again, or trust another device."
          );
        default:
          return showError(explain(e, "This device could not be enrolled. Try again."));
      }
    }
  }

  // Approving an agent's task (issue 18): the server's options carry a
  // challenge that is the hash of the task as shown; the passkey signs it.
  async function approveTask(id) {
    say("task-error", "");
    try {
      const options = await post("/me/tasks/" + encodeURIComponent(id) + "/approve/options", {});
      delete options.status;
      delete options.errorMessage;
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
      await post("/me/tasks/" + encodeURIComponent(id) + "/approve", credentialJSON(credential));
      location.assign("/me?notice=task-approved#task-" + id);
    } catch (e) {
      const tooLow = e instanceof Failure && e.reply && e.reply.reason === "task_tier_too_low";
      say(
        "task-error",
        tooLow
          ? "This task needs a stronger passkey: approve it with a device-bound passkey or security key, with your PIN or biometric."
          : explain(e, "The task was not approved. It may have expired or been decided already: reload the page.")
      );
    }
  }

  function mePage() {
    const account = document.getElementById("account");
    const add = document.getElementById("add-passkey");
    if (add) add.addEventListener("click", () => register({}, "/me?notice=added"));
    const trust = document.getElementById("trust-device");
    if (trust) trust.addEventListener("click", trustDevice);
    // A fresh sign-in from this page replaces the session (a step-up).
    const stepUp = document.getElementById("step-up");
    if (stepUp) stepUp.addEventListener("click", () => signIn(""));
    document.querySelectorAll("button.approve-task").forEach((button) => {
      button.addEventListener("click", () => approveTask(button.dataset.taskId));
    });
    if (!account) return;
    const userId = account.dataset.userId;
    const rpId = account.dataset.rpId;
    const accepted = account.dataset.accepted ? account.dataset.accepted.split(" ") : [];
    // The server's list is the truth: any passkey of this account that the
    // provider still offers but we no longer accept (revoked here, or on
    // another device) is hidden.
    signal("signalAllAcceptedCredentials", { rpId, userId, allAcceptedCredentialIds: accepted });
    if ("renamed" in account.dataset) {
      signal("signalCurrentUserDetails", {
        rpId,
        userId,
        name: account.dataset.userName,
        displayName: account.dataset.userName,
      });
    }
  }

  // An app's step-up (/step-up?rd=&tier=): confirm, then back to the app.
  function stepUpReturnPage() {
    const button = document.getElementById("step-up");
    if (button) button.addEventListener("click", () => signIn(""));
  }

  // The console's step-up: confirm with a passkey, then send again what
  // the administrator was doing (the #resume form, filled by the server).
  function stepUpPage() {
    const button = document.getElementById("step-up");
    const resume = document.getElementById("resume");
    if (!button || !resume) return;
    button.addEventListener("click", () => signIn("", () => resume.submit()));
  }

  function start() {
    if (!window.PublicKeyCredential) {
      const page = document.body.dataset.page;
      if (page === "sign-in" || page === "enroll") {
        showError("This browser does not support passkeys. Use a current browser.");
      }
    }
    switch (document.body.dataset.page) {
      case "sign-in":
        return signInPage();
      case "enroll":
        return enrollPage();
      case "me":
        return mePage();
      case "step-up":
        return stepUpPage();
      case "step-up-return":
        return stepUpReturnPage();
      default:
        return undefined;
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
