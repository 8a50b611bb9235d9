// Validation of HeyGen generate requests by the contract's field rules
// (proxy-contract.md §7.3), run before spending a provider call. Each
// function returns a list of {path, message}; an empty list means valid.
// The paths name the body's fields, so the form can put each message next
// to its control.

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const blank = (v) => typeof v !== 'string' || v.trim() === '';

/** validateGenerateVideo checks a generate-video body. */
export function validateGenerateVideo(body) {
  const errs = [];
  const add = (path, message) => errs.push({ path, message });
  if (!isObject(body)) return [{ path: '', message: 'The body must be a JSON object.' }];
  if (body.test !== undefined && typeof body.test !== 'boolean') add('test', 'Test mode must be true or false.');
  if (!Array.isArray(body.video_inputs) || body.video_inputs.length === 0) {
    add('video_inputs', 'Add at least one scene (video_inputs is required).');
  } else {
    body.video_inputs.forEach((scene, i) => validateScene(scene, `video_inputs[${i}]`, add));
  }
  const dim = body.dimension;
  if (!isObject(dim)) {
    add('dimension.width', 'Width is required.');
    add('dimension.height', 'Height is required.');
  } else {
    for (const side of ['width', 'height']) {
      const v = dim[side];
      const name = side[0].toUpperCase() + side.slice(1);
      if (v === undefined || v === null || v === '') add(`dimension.${side}`, `${name} is required.`);
      else if (!Number.isInteger(v) || v <= 0) add(`dimension.${side}`, `${name} must be a positive whole number of pixels.`);
    }
  }
  return errs;
}

function validateScene(scene, at, add) {
  if (!isObject(scene)) { add(at, 'Each scene must be an object.'); return; }
  const ch = scene.character;
  if (!isObject(ch)) {
    add(`${at}.character.avatar_id`, 'Choose an avatar.');
  } else {
    if (ch.type !== 'avatar') add(`${at}.character.type`, 'The character type must be "avatar".');
    if (blank(ch.avatar_id)) add(`${at}.character.avatar_id`, 'Choose an avatar.');
    if (blank(ch.avatar_style)) add(`${at}.character.avatar_style`, 'Choose an avatar style.');
  }
  const voice = scene.voice;
  if (!isObject(voice)) {
    add(`${at}.voice.input_text`, 'Write the script.');
    add(`${at}.voice.voice_id`, 'Choose a voice.');
  } else {
    if (voice.type !== 'text') add(`${at}.voice.type`, 'The voice type must be "text".');
    if (blank(voice.input_text)) add(`${at}.voice.input_text`, 'Write the script.');
    if (blank(voice.voice_id)) add(`${at}.voice.voice_id`, 'Choose a voice.');
  }
}

/** validateTemplateVideo checks a generate-template-video call. */
export function validateTemplateVideo(templateId, body) {
  const errs = [];
  if (blank(templateId)) errs.push({ path: 'template_id', message: 'Choose a template.' });
  if (!isObject(body)) return [...errs, { path: '', message: 'The body must be a JSON object.' }];
  for (const flag of ['test', 'caption']) {
    if (body[flag] !== undefined && typeof body[flag] !== 'boolean') errs.push({ path: flag, message: `${flag} must be true or false.` });
  }
  if (!isObject(body.variables)) errs.push({ path: 'variables', message: 'Variables must be a JSON object (it may be empty: {}).' });
  return errs;
}
