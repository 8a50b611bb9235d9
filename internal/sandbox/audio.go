package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Defaults of the ElevenLabs text-to-speech endpoints.
const (
	defaultOutputFormat = "mp3_44100_128"
	defaultModelID      = "eleven_multilingual_v2"
	previewSentence     = "Hello! This is a preview of my voice. I hope you like how I sound."
)

// outputFormat is a parsed output_format such as mp3_44100_128.
type outputFormat struct {
	name  string
	codec string // "mp3", "pcm" or "wav"
	rate  int    // samples per second
}

// supportedFormats lists the output formats the sandbox can produce. opus, ulaw and alaw
// formats, which the real API also offers, are answered with a 422 like an unknown value.
var supportedFormats = []string{
	"mp3_22050_32", "mp3_24000_48", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "mp3_44100_128", "mp3_44100_192",
	"pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_32000", "pcm_44100", "pcm_48000",
	"wav_8000", "wav_16000", "wav_22050", "wav_24000", "wav_32000", "wav_44100", "wav_48000",
}

// parseOutputFormat parses one of supportedFormats.
func parseOutputFormat(s string) (outputFormat, bool) {
	for _, f := range supportedFormats {
		if f == s {
			parts := strings.Split(s, "_")
			rate, _ := strconv.Atoi(parts[1])
			return outputFormat{name: s, codec: parts[0], rate: rate}, true
		}
	}
	return outputFormat{}, false
}

// contentType is the media type the API answers with for f.
func (f outputFormat) contentType() string {
	switch f.codec {
	case "mp3":
		return "audio/mpeg"
	case "wav":
		return "audio/wav"
	}
	return "audio/pcm"
}

// Speech returns the exact audio bytes the ElevenLabs text-to-speech endpoints produce for
// this input. It is deterministic: the same input gives the same bytes. MP3 formats give a
// valid MPEG audio stream of short voiced syllables (about one per three letters) and pauses
// at spaces and punctuation, at the format's sample rate and bit rate; pcm formats give raw
// 16-bit little-endian mono samples of the same shape, and wav formats the same in a RIFF
// file. An output format the sandbox does not support is treated as mp3_44100_128.
func Speech(text, voiceID, modelID, outputFormat string) []byte {
	f, ok := parseOutputFormat(outputFormat)
	if !ok {
		f, _ = parseOutputFormat(defaultOutputFormat)
	}
	return synthesize(text, voiceID, modelID, f).audio
}

// speechUnit is a stretch of text spoken as one sound: a syllable or a pause.
type speechUnit struct {
	runeStart, runeEnd int // the runes of the text it covers
	clip               int // 0–11 for a syllable; silenceClip for a pause
	reps               int // how many times the sound repeats (long pauses repeat)
}

// silenceClip marks a pause.
const silenceClip = -1

// speechUnits splits text into syllables of up to three letters and pauses, choosing each
// syllable's pitch from a hash of the voice, the model and the letters.
func speechUnits(text, voiceID, modelID string) []speechUnit {
	runes := []rune(text)
	var units []speechUnit
	for i := 0; i < len(runes); {
		j := i
		if isSpoken(runes[i]) {
			for j < len(runes) && j-i < 3 && isSpoken(runes[j]) {
				j++
			}
			units = append(units, speechUnit{runeStart: i, runeEnd: j, clip: pitchOf(voiceID, modelID, string(runes[i:j])), reps: 1})
		} else {
			reps := 1
			for j < len(runes) && !isSpoken(runes[j]) {
				if strings.ContainsRune(".!?;:\n", runes[j]) {
					reps = 3
				}
				j++
			}
			units = append(units, speechUnit{runeStart: i, runeEnd: j, clip: silenceClip, reps: reps})
		}
		i = j
	}
	if len(units) == 0 {
		units = append(units, speechUnit{clip: silenceClip, reps: 1}) // Even "" yields valid audio.
	}
	return units
}

// isSpoken reports whether r is voiced rather than a pause.
func isSpoken(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// pitchOf picks one of the twelve syllable clips.
func pitchOf(voiceID, modelID, letters string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(voiceID + "\x00" + modelID + "\x00" + strings.ToLower(letters)))
	return int(h.Sum32() % 12)
}

// synthesized is rendered speech and where each unit lies in it.
type synthesized struct {
	audio []byte
	units []timedUnit
}

// timedUnit places a speechUnit in time and in the audio bytes.
type timedUnit struct {
	speechUnit
	start, end float64 // seconds
	byteEnd    int     // offset in audio just after the unit
}

// synthesize renders text in format f.
func synthesize(text, voiceID, modelID string, f outputFormat) synthesized {
	units := speechUnits(text, voiceID, modelID)
	var out synthesized
	if f.codec == "wav" {
		out.audio = make([]byte, 44) // The RIFF header is filled in last.
	}
	type clipSound struct {
		b    []byte
		secs float64
	}
	sounds := map[int]clipSound{} // Each clip is decoded once per call.
	var t float64
	for _, u := range units {
		snd, ok := sounds[u.clip]
		if !ok {
			snd.b, snd.secs = unitSound(u.clip, f)
			sounds[u.clip] = snd
		}
		for range u.reps {
			out.audio = append(out.audio, snd.b...)
		}
		dur := snd.secs * float64(u.reps)
		out.units = append(out.units, timedUnit{speechUnit: u, start: t, end: t + dur, byteEnd: len(out.audio)})
		t += dur
	}
	if f.codec == "wav" {
		putWAVHeader(out.audio, f.rate)
	}
	return out
}

// unitSound returns the bytes and duration of one clip in format f.
func unitSound(clip int, f outputFormat) ([]byte, float64) {
	if f.codec == "mp3" {
		b := mp3Clip(f.name, clip)
		frames, err := parseMP3(b)
		if err != nil {
			panic(fmt.Sprintf("sandbox: embedded clip %s/%d: %v", f.name, clip, err)) // A build defect.
		}
		return b, frames.seconds()
	}
	samples := toneSamples(clip, f.rate)
	return pcmBytes(samples), float64(len(samples)) / float64(f.rate)
}

// mp3Clip reads an embedded clip.
func mp3Clip(format string, clip int) []byte {
	name := "sil.mp3"
	if clip != silenceClip {
		name = fmt.Sprintf("%02d.mp3", clip)
	}
	b, err := speechClips.ReadFile("assets/speech/" + format + "/" + name)
	if err != nil {
		panic(fmt.Sprintf("sandbox: embedded clip missing: %v", err)) // A build defect.
	}
	return b
}

// toneSamples synthesizes a clip as PCM, with the same waveform assets/generate.sh encodes:
// a 0.16 s note at 110+14·clip Hz with two overtones under a half-sine envelope, or 0.12 s
// of silence.
func toneSamples(clip, rate int) []int16 {
	if clip == silenceClip {
		return make([]int16, int(math.Round(0.12*float64(rate))))
	}
	const dur = 0.16
	f := float64(110 + 14*clip)
	out := make([]int16, int(math.Round(dur*float64(rate))))
	for i := range out {
		t := float64(i) / float64(rate)
		v := 0.35 * math.Sin(math.Pi*t/dur) *
			(math.Sin(2*math.Pi*f*t) + 0.5*math.Sin(4*math.Pi*f*t) + 0.25*math.Sin(6*math.Pi*f*t))
		out[i] = int16(math.Round(math.Max(-1, math.Min(1, v)) * 32767))
	}
	return out
}

// pcmBytes encodes samples as 16-bit little-endian.
func pcmBytes(samples []int16) []byte {
	b := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

// putWAVHeader writes a 44-byte RIFF/WAVE header for mono 16-bit PCM at the start of b.
func putWAVHeader(b []byte, rate int) {
	le := binary.LittleEndian
	copy(b[0:], "RIFF")
	le.PutUint32(b[4:], uint32(len(b)-8))
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)
	le.PutUint16(b[20:], 1) // PCM
	le.PutUint16(b[22:], 1) // mono
	le.PutUint32(b[24:], uint32(rate))
	le.PutUint32(b[28:], uint32(rate*2))
	le.PutUint16(b[32:], 2)
	le.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(len(b)-44))
}

// mp3Info summarizes a run of MPEG audio frames.
type mp3Info struct {
	frames          int
	sampleRate      int
	samplesPerFrame int
	bitrateKbps     int
}

// seconds is the playing time of the frames.
func (m mp3Info) seconds() float64 {
	return float64(m.frames*m.samplesPerFrame) / float64(m.sampleRate)
}

// parseMP3 walks b as back-to-back MPEG-1/2 Layer III frames with no tags, checking that
// every frame header is valid and that all frames share one sample rate.
func parseMP3(b []byte) (mp3Info, error) {
	var info mp3Info
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return info, fmt.Errorf("truncated frame header at %d", off)
		}
		size, hdr, err := mp3FrameHeader(b[off:])
		if err != nil {
			return info, fmt.Errorf("frame at %d: %w", off, err)
		}
		if info.frames > 0 && hdr.sampleRate != info.sampleRate {
			return info, fmt.Errorf("frame at %d: sample rate changes", off)
		}
		if off+size > len(b) {
			return info, fmt.Errorf("frame at %d: truncated", off)
		}
		hdr.frames = info.frames + 1
		info = hdr
		off += size
	}
	if info.frames == 0 {
		return info, errors.New("no frames")
	}
	return info, nil
}

// mp3FrameHeader decodes one Layer III frame header and returns the frame's size.
func mp3FrameHeader(h []byte) (int, mp3Info, error) {
	if h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
		return 0, mp3Info{}, errors.New("no frame sync")
	}
	version := (h[1] >> 3) & 3 // 3 = MPEG-1, 2 = MPEG-2
	if layer := (h[1] >> 1) & 3; layer != 1 || (version != 3 && version != 2) {
		return 0, mp3Info{}, errors.New("not MPEG-1/2 Layer III")
	}
	brIdx, srIdx, padding := int(h[2]>>4), int((h[2]>>2)&3), int((h[2]>>1)&1)
	if brIdx == 0 || brIdx == 15 || srIdx == 3 {
		return 0, mp3Info{}, errors.New("bad bitrate or sample rate index")
	}
	mpeg1Rates := [...]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	mpeg2Rates := [...]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
	info := mp3Info{sampleRate: [...]int{44100, 48000, 32000}[srIdx], samplesPerFrame: 1152, bitrateKbps: mpeg1Rates[brIdx]}
	if version == 2 {
		info.sampleRate /= 2
		info.samplesPerFrame = 576
		info.bitrateKbps = mpeg2Rates[brIdx]
	}
	size := info.samplesPerFrame/8*info.bitrateKbps*1000/info.sampleRate + padding
	return size, info, nil
}
