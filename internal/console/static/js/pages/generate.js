// The generate-video form: scenes of avatar + script + voice, a size, and
// test mode, validated by the contract's field rules before any provider
// call; a HeyGen v3 video of one avatar look picked by its picture; or a
// template video with its variables. A started video becomes a
// job on the Jobs page.
import * as api from '../api.js';
import { jobs } from '../jobs.js';
import { h, field, select, setError, errorNotice, replace, pageHead, busy, toast, uid } from '../ui.js';
import { validateGenerateVideo, validateTemplateVideo } from '../validate.js';
import { avatarItems, lookItems } from './avatars.js';
import { heygenVoices } from './voices.js';
import { openPicker, rememberedPair, rememberPair } from '../picker.js';

const STYLES = [['normal', 'Normal'], ['circle', 'Circle'], ['closeUp', 'Close-up']];
const SIZES = [['1280x720', 'Landscape 1280 × 720'], ['720x1280', 'Portrait 720 × 1280'],
  ['1920x1080', 'Landscape 1920 × 1080'], ['1080x1920', 'Portrait 1080 × 1920'], ['custom', 'Custom']];

export async function render(container, ctx) {
  const mode = ['template', 'v3'].includes(ctx.query.get('mode')) ? ctx.query.get('mode') : 'avatar';
  container.append(
    pageHead('Generate video', 'Make a HeyGen video. Test mode renders a watermarked video and spends no credits.'),
    h('nav', { class: 'tabs', 'aria-label': 'Kind of video' },
      h('a', { href: '#/generate', 'aria-current': mode === 'avatar' ? 'page' : undefined, text: 'Avatar video' }),
      h('a', { href: '#/generate?mode=v3', 'aria-current': mode === 'v3' ? 'page' : undefined, text: 'Avatar look (v3)' }),
      h('a', { href: '#/generate?mode=template', 'aria-current': mode === 'template' ? 'page' : undefined, text: 'Template video' })));
  if (mode === 'template') container.append(templateForm(ctx));
  else if (mode === 'v3') container.append(lookForm(ctx));
  else container.append(avatarForm(ctx));
}

const ASPECTS = [['16:9', 'Landscape 16:9'], ['9:16', 'Portrait 9:16'], ['1:1', 'Square 1:1'], ['4:5', 'Portrait 4:5']];
const RESOLUTIONS = [['720p', '720p'], ['1080p', '1080p'], ['4k', '4K']];

/**
 * lookForm makes a HeyGen v3 video (POST /v3/videos): one avatar look,
 * picked from a gallery of the v3 looks (each person's outfits and
 * settings), a script and a voice. v3 has no test mode: the render spends
 * credits. A look with a default voice needs no voice.
 */
function lookForm(ctx) {
  const org = ctx.session.org;
  const notice = h('div', {});
  const summary = h('div', { tabindex: '-1' });
  const pair = rememberedPair(org);
  const look = field('Look id', h('input', { type: 'text', name: 'look_id', spellcheck: 'false', value: ctx.query.get('look') || pair.look || '' }),
    { hint: 'A v3 look: choose one by its picture.' });
  const title = field('Title', h('input', { type: 'text', name: 'title', maxlength: 200 }), { hint: 'Optional: how the library names the video.' });
  const text = field('Script', h('textarea', { name: 'script', rows: 4, maxlength: 5000 }), { hint: 'What the avatar says.' });
  const voice = field('Voice id', h('input', { type: 'text', name: 'voice_id', spellcheck: 'false', value: pair.voice || '' }),
    { hint: 'Leave empty to use the look’s own voice, when it has one.' });
  const aspect = field('Aspect ratio', select(ASPECTS, { name: 'aspect_ratio', value: '16:9' }));
  const resolution = field('Resolution', select(RESOLUTIONS, { name: 'resolution', value: '720p' }));
  const lists = {
    ready: Promise.all([api.listLooks(), api.listAvatarGroups().catch(() => []), api.listHeyGenVoices()])
      .then(([l, g, v]) => ({ looks: lookItems(l, g), voices: heygenVoices(v) }))
      .catch((err) => { replace(notice, errorNotice(err, 'Could not load the v3 looks and voices')); return { looks: [], voices: [] }; }),
  };
  const lookOf = async () => (await lists.ready).looks.find((x) => x.id === look.control.value.trim());
  const shown = h('div', { class: 'chosen', 'aria-live': 'polite' });
  const draw = async () => {
    const it = await lookOf();
    replace(shown, it ? [it.image ? h('img', { src: it.image, alt: '', width: 48, height: 48 }) : null,
      h('span', { text: `${it.name}${it.group ? ` · ${it.group}` : ''}` })] : null);
  };
  const pickLook = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-picker': 'look', text: 'Choose a look…' });
  pickLook.addEventListener('click', async () => {
    const items = await lists.ready;
    const it = await openPicker({ kind: 'look', title: 'Choose a look', items: items.looks, selected: look.control.value.trim() });
    pickLook.focus();
    if (!it) return;
    look.control.value = it.id;
    if (!voice.control.value.trim() && it.voice) voice.control.value = it.voice;
    rememberPair(org, { look: it.id });
    look.control.dispatchEvent(new Event('input', { bubbles: true }));
  });
  look.control.addEventListener('input', draw);
  draw();
  const pickVoice = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-picker': 'voice', text: 'Choose a voice…' });
  pickVoice.addEventListener('click', async () => {
    const items = await lists.ready;
    const it = await openPicker({ kind: 'voice', title: 'Choose a voice', items: items.voices, selected: voice.control.value.trim() });
    pickVoice.focus();
    if (!it) return;
    voice.control.value = it.id;
    rememberPair(org, { voice: it.id });
    voice.control.dispatchEvent(new Event('input', { bubbles: true }));
  });
  const preview = h('pre', { 'aria-label': 'Request body' });
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Generate video' });
  const body = () => {
    const b = { type: 'avatar', avatar_id: look.control.value.trim(), script: text.control.value.trim() };
    if (voice.control.value.trim()) b.voice_id = voice.control.value.trim();
    if (title.control.value.trim()) b.title = title.control.value.trim();
    b.aspect_ratio = aspect.control.value;
    b.resolution = resolution.control.value;
    return b;
  };
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Avatar look video' }, notice, summary,
    h('fieldset', { class: 'scene' }, h('legend', { text: 'Avatar look' }), look, h('div', { class: 'chooser' }, pickLook, shown),
      text, voice, h('div', { class: 'chooser' }, pickVoice)),
    h('fieldset', {}, h('legend', { text: 'Video' }), title, h('div', { class: 'dims' }, aspect, resolution),
      h('p', { class: 'muted small', text: 'HeyGen’s v3 API has no test mode: this render spends credits on a real account.' })),
    h('details', {}, h('summary', { text: 'Request body' }), preview),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('input', () => { preview.textContent = JSON.stringify(body(), null, 2); });
  preview.textContent = JSON.stringify(body(), null, 2);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const b = body();
    const it = await lookOf();
    const errs = [];
    if (!b.avatar_id) errs.push({ path: 'avatar_id', message: 'Choose a look.' });
    if (!b.script) errs.push({ path: 'script', message: 'Write what the avatar says.' });
    if (!b.voice_id && !(it && it.voice)) errs.push({ path: 'voice_id', message: 'Choose a voice: this look has none of its own.' });
    if (!showErrors(form, summary, errs, (p) => ({ avatar_id: look, script: text, voice_id: voice }[p]))) return;
    await busy(submit, 'Starting…', async () => {
      try {
        const id = await api.createV3Video(b);
        rememberPair(org, { look: b.avatar_id, ...(b.voice_id ? { voice: b.voice_id } : {}) });
        startJob(ctx, id, `v3 look ${it ? it.name : b.avatar_id} · ${b.aspect_ratio} · ${b.resolution}`);
      } catch (err) {
        replace(summary, errorNotice(err, 'The video was not started'));
        summary.focus();
      }
    });
  });
  return form;
}

/** choices loads the avatar and voice lists for the datalists, in the background. */
function choices(notice) {
  const avatars = h('datalist', { id: uid('avatars') });
  const voices = h('datalist', { id: uid('voices') });
  const ready = Promise.all([api.listAvatars(), api.listHeyGenVoices()]).then(([a, v]) => {
    const items = { avatars: avatarItems(a), voices: heygenVoices(v) };
    replace(avatars, items.avatars.map((x) => h('option', { value: x.id, text: x.name })));
    replace(voices, items.voices.map((x) => h('option', { value: x.id, text: `${x.name} (${x.language})` })));
    return items;
  }).catch((err) => {
    replace(notice, errorNotice(err, 'Could not load avatars and voices for suggestions'));
    return { avatars: [], voices: [] };
  });
  return { avatars, voices, ready };
}

/**
 * chooser is a field's "Choose…" button and the chosen item's preview: it
 * opens the picker, fills the field and remembers the choice.
 */
function chooser(kind, wrap, lists, org) {
  const title = kind === 'avatar' ? 'Choose an avatar' : 'Choose a voice';
  const shown = h('div', { class: 'chosen', 'aria-live': 'polite' });
  const draw = async () => {
    const items = await lists.ready;
    const it = (kind === 'avatar' ? items.avatars : items.voices).find((x) => x.id === wrap.control.value.trim());
    replace(shown, it ? [
      kind === 'avatar' && it.image ? h('img', { src: it.image, alt: '', width: 48, height: 48 }) : null,
      h('span', { text: `${it.name}${it.language ? ` · ${it.language}` : ''}` })] : null);
  };
  const button = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-picker': kind, text: `${title}…` });
  button.addEventListener('click', async () => {
    const items = await lists.ready;
    const it = await openPicker({ kind, title, items: kind === 'avatar' ? items.avatars : items.voices, selected: wrap.control.value.trim() });
    button.focus();
    if (!it) return;
    wrap.control.value = it.id;
    wrap.control.dispatchEvent(new Event('input', { bubbles: true }));
    rememberPair(org, { [kind]: it.id });
  });
  wrap.control.addEventListener('input', draw);
  draw();
  return h('div', { class: 'chooser' }, button, shown);
}

function sceneFields(lists, index, prefill = {}) {
  const f = {
    avatar: field('Avatar id', h('input', { type: 'text', name: 'avatar_id', list: lists.avatars.id, spellcheck: 'false', value: prefill.avatar || '' }),
      { hint: 'Pick from the suggestions or paste an id from the Avatars page.' }),
    style: field('Avatar style', select(STYLES, { name: 'avatar_style', value: 'normal' })),
    text: field('Script', h('textarea', { name: 'input_text', rows: 4, maxlength: 5000, value: prefill.text || '' }), { hint: 'What the avatar says.' }),
    voice: field('Voice id', h('input', { type: 'text', name: 'voice_id', list: lists.voices.id, spellcheck: 'false', value: prefill.voice || '' }),
      { hint: 'Pick from the suggestions or use a voice from the Voices page.' }),
  };
  f.legend = h('legend', { text: `Scene ${index + 1}` });
  f.remove = h('button', { type: 'button', class: 'btn btn-quiet btn-small', text: 'Remove scene' });
  f.el = h('fieldset', { class: 'scene' }, f.legend,
    h('div', { class: 'row' }, h('div', {}, f.avatar, chooser('avatar', f.avatar, lists, prefill.org)), f.style), f.text,
    f.voice, chooser('voice', f.voice, lists, prefill.org), h('div', { class: 'actions' }, f.remove));
  return f;
}

function avatarForm(ctx) {
  const notice = h('div', {});
  const lists = choices(notice);
  const scenes = [];
  const scenesEl = h('div', {});
  const summary = h('div', { tabindex: '-1' });
  const org = ctx.session.org;
  const addScene = (prefill = {}) => {
    const s = sceneFields(lists, scenes.length, { ...prefill, org });
    s.remove.addEventListener('click', () => {
      scenes.splice(scenes.indexOf(s), 1);
      s.el.remove();
      relabel();
      scenes[0].avatar.control.focus();
    });
    scenes.push(s);
    scenesEl.append(s.el);
    relabel();
    return s;
  };
  const relabel = () => scenes.forEach((s, i) => {
    s.legend.textContent = `Scene ${i + 1}`;
    s.remove.hidden = scenes.length === 1;
    s.remove.setAttribute('aria-label', `Remove scene ${i + 1}`);
  });
  const pair = rememberedPair(org);
  addScene({ avatar: ctx.query.get('avatar') || pair.avatar || '', voice: ctx.query.get('voice') || pair.voice || '' });

  const size = field('Size', select(SIZES, { name: 'size', value: '1280x720' }));
  const width = field('Width (px)', h('input', { type: 'number', name: 'width', min: 1, step: 1, value: '1280', inputmode: 'numeric' }));
  const height = field('Height (px)', h('input', { type: 'number', name: 'height', min: 1, step: 1, value: '720', inputmode: 'numeric' }));
  size.control.addEventListener('change', () => {
    if (size.control.value === 'custom') { width.control.focus(); return; }
    const [w, hgt] = size.control.value.split('x');
    width.control.value = w;
    height.control.value = hgt;
  });
  const onDims = () => {
    const v = `${width.control.value}x${height.control.value}`;
    size.control.value = SIZES.some(([k]) => k === v) ? v : 'custom';
  };
  width.control.addEventListener('input', onDims);
  height.control.addEventListener('input', onDims);
  const test = h('input', { type: 'checkbox', name: 'test', id: uid('test'), checked: true });
  const preview = h('pre', { 'aria-label': 'Request body' });
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Generate video' });

  const body = () => ({
    test: test.checked,
    video_inputs: scenes.map((s) => ({
      character: { type: 'avatar', avatar_id: s.avatar.control.value.trim(), avatar_style: s.style.control.value },
      voice: { type: 'text', input_text: s.text.control.value.trim(), voice_id: s.voice.control.value.trim() },
    })),
    dimension: { width: toInt(width.control.value), height: toInt(height.control.value) },
  });
  const fieldFor = (path) => {
    const m = /^video_inputs\[(\d+)\]\.(character|voice)\.(\w+)$/.exec(path);
    if (m) {
      const s = scenes[Number(m[1])];
      return { avatar_id: s.avatar, avatar_style: s.style, type: m[2] === 'character' ? s.avatar : s.voice, input_text: s.text, voice_id: s.voice }[m[3]];
    }
    return { 'dimension.width': width, 'dimension.height': height }[path];
  };

  const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Avatar video' },
    notice, summary, scenesEl,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-secondary', text: 'Add scene',
      onclick: () => addScene().avatar.control.focus() })),
    h('fieldset', {}, h('legend', { text: 'Video' }), h('div', { class: 'dims' }, size, width, height),
      h('label', { class: 'check', for: test.id }, test, 'Test mode (watermarked, spends no credits)')),
    h('details', {}, h('summary', { text: 'Request body' }), preview),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('input', () => { preview.textContent = JSON.stringify(body(), null, 2); });
  preview.textContent = JSON.stringify(body(), null, 2);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const b = body();
    const errs = validateGenerateVideo(b);
    if (!showErrors(form, summary, errs, fieldFor)) return;
    await busy(submit, 'Starting…', async () => {
      try {
        const id = await api.generateVideo(b);
        rememberPair(org, { avatar: b.video_inputs[0].character.avatar_id, voice: b.video_inputs[0].voice.voice_id });
        startJob(ctx, id, `${b.video_inputs.length} scene${b.video_inputs.length > 1 ? 's' : ''} · ${b.dimension.width}×${b.dimension.height}${b.test ? ' · test' : ''}`);
      } catch (err) {
        replace(summary, errorNotice(err, 'The video was not started'));
        summary.focus();
      }
    });
  });
  return form;
}

function templateForm(ctx) {
  const summary = h('div', { tabindex: '-1' });
  const tpl = field('Template', select([['', 'Loading templates…']], { name: 'template_id', disabled: true }));
  api.listTemplates().then((list) => {
    replace(tpl.control, h('option', { value: '', text: list.length ? 'Choose a template' : 'No templates in this account' }),
      list.map((t) => h('option', { value: t.template_id, text: `${t.name}${t.aspect_ratio ? ` (${t.aspect_ratio})` : ''}` })));
    tpl.control.disabled = false;
  }).catch((err) => { replace(summary, errorNotice(err, 'Could not load templates')); replace(tpl.control, h('option', { value: '', text: 'Unavailable' })); });
  const vars = field('Variables', h('textarea', { class: 'code', name: 'variables', rows: 8, spellcheck: 'false' }),
    { hint: 'A JSON object; its keys are the template’s variable names.' });
  vars.control.value = JSON.stringify({ script: { name: 'script', type: 'text', properties: { content: 'Hello, this is a test video.' } } }, null, 2);
  const test = h('input', { type: 'checkbox', name: 'test', id: uid('test'), checked: true });
  const caption = h('input', { type: 'checkbox', name: 'caption', id: uid('caption') });
  const submit = h('button', { type: 'submit', class: 'btn', text: 'Generate template video' });
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': 'Template video' }, summary, tpl, vars,
    h('label', { class: 'check', for: test.id }, test, 'Test mode (watermarked, spends no credits)'),
    h('label', { class: 'check', for: caption.id }, caption, 'Add captions'),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let variables;
    try { variables = JSON.parse(vars.control.value || '{}'); } catch { variables = 'invalid'; }
    const b = { test: test.checked, caption: caption.checked, variables };
    const errs = validateTemplateVideo(tpl.control.value, b);
    if (!showErrors(form, summary, errs, (p) => ({ template_id: tpl, variables: vars }[p]))) return;
    await busy(submit, 'Starting…', async () => {
      try {
        const id = await api.generateTemplateVideo(tpl.control.value, b);
        startJob(ctx, id, `template ${tpl.control.selectedOptions[0].textContent}${b.test ? ' · test' : ''}`);
      } catch (err) {
        replace(summary, errorNotice(err, 'The video was not started'));
        summary.focus();
      }
    });
  });
  return form;
}

const toInt = (v) => (v === '' ? '' : Number(v));

/** showErrors marks each field, lists the errors on top and focuses the list; true when there are none. */
function showErrors(form, summary, errs, fieldFor) {
  for (const el of form.querySelectorAll('.field')) if (el.errorEl) setError(el, '');
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  for (const wrap of form.querySelectorAll('.field-error')) { wrap.hidden = true; wrap.textContent = ''; }
  if (!errs.length) { replace(summary); return true; }
  const items = errs.map((e) => {
    const wrap = fieldFor(e.path);
    if (wrap) setError(wrap, e.message);
    return h('li', {}, wrap
      ? h('a', { href: `#${wrap.control.id}`, text: e.message, onclick: (ev) => { ev.preventDefault(); wrap.control.focus(); } })
      : e.message);
  });
  replace(summary, h('div', { class: 'notice notice-error error-summary', role: 'alert' },
    h('strong', { text: `Fix ${errs.length} problem${errs.length > 1 ? 's' : ''} before generating:` }), h('ul', {}, items)));
  summary.focus();
  return false;
}

function startJob(ctx, id, label) {
  jobs.add({ id, service: 'heygen', label });
  toast(`Video ${id} started.`);
  ctx.navigate('#/jobs');
}
