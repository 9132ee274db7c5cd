// Loaded before django-otp-webauthn's scripts (templates/accounts/_passkey_scripts.jinja).
//
// The library's scripts call a global gettext(), which Django's JavaScript catalogue view
// would define: a script built per request. The service is in English only, so this static
// stand-in defines it, and words the library's messages the way the rest of the service does.
const WORDING = {
  'Verifying...': 'Waiting for your passkey…',
  'Finishing verification...': 'Signing you in…',
  'Verification successful!': 'Passkey accepted. Signing you in…',
  'Verification aborted.': 'The passkey was not used. Try again, or use your security code.',
  'Verification canceled or not allowed.': 'The passkey was not used. Try again, or use your security code.',
  'Verification failed. Could not retrieve parameters from the server.': 'The passkey could not be checked. Try again.',
  'Verification failed. An unknown error occurred.': 'The passkey could not be checked. Try again.',
  'Verification failed. An unknown server error occurred.': 'The passkey could not be checked. Try again.',
  'Registering...': 'Waiting for your device…',
  'Finishing registration...': 'Saving the passkey…',
  'Registration successful!': 'Passkey added.',
  'Registration aborted.': 'The passkey was not created. Try again.',
  'Registration aborted or not allowed.': 'The passkey was not created. Try again.',
  'Registration failed. You most likely already have a Passkey registered for this site.':
    'This device or password manager already has a passkey for your CP-IS account.',
  'Registration failed. The server was unable to verify this passkey.': 'The passkey could not be saved. Try again.',
  'Registration failed. Unable to fetch registration options from server.': 'The passkey could not be created. Try again.'
}

window.gettext = (text) => WORDING[text] || text

// Once the passkey is saved, show it in the list (the library's script only says so in place).
document.addEventListener('otp_webauthn.register_complete', () => {
  const done = document.querySelector('[data-passkey-done-url]')
  if (done) window.location.assign(done.dataset.passkeyDoneUrl)
})
