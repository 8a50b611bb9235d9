package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// hgAvatar is one entry of HeyGen's avatar catalog.
type hgAvatar struct {
	ID, Name, Gender string
	Premium          bool
	Type             *string
	Tags             []string
	DefaultVoiceID   *string
}

// hgTalkingPhoto is one entry of HeyGen's talking-photo catalog.
type hgTalkingPhoto struct{ ID, Name string }

// hgVoice is one entry of HeyGen's voice catalog.
type hgVoice struct {
	ID, Language, Gender, Name string
	SupportPause, Emotion      bool
	Interactive, Locale        bool
}

// hgVariable is one variable of a template.
type hgVariable struct {
	Name, Type string
	Properties map[string]any
}

// hgTemplate is one of the account's templates.
type hgTemplate struct {
	ID, Name, AspectRatio string
	HasThumbnail          bool
	Variables             []hgVariable
}

// heygenCatalog is the seeded, read-only catalog one Server answers with.
type heygenCatalog struct {
	avatars    []hgAvatar
	avatarByID map[string]bool
	photos     []hgTalkingPhoto
	photoByID  map[string]bool
	voices     []hgVoice
	voiceByID  map[string]bool
	templates  []hgTemplate
}

// The ids the reference and the proxy contract use; the catalog always contains them.
const (
	hgAbigailID     = "Abigail_expressive_2024112501"
	hgKristinID     = "Kristin_public_3_20240108"
	hgChillBrianID  = "f38a635bee7a4d1f9b0a654a31d050d2"
	hgPostmanVoice  = "2f72ee82b83d4b00af16c4771d611752"
	hgTemplateOneID = "22a48da453ef4c014a6a60d827a02f0b"
)

var (
	// femaleNames and maleNames are first names for generated avatars and voices.
	femaleNames = strings.Fields(`Abigail Adriana Aiko Alessandra Amara Amelia Anna Aria Ava Bianca
		Briana Camila Chloe Daisy Elena Emily Esther Fatima Freya Grace Hana Harper Imani Ines Isabella
		Jade Jasmine Jenny Jocelyn Julia Kayla Kristin Leah Lily Lucia Maya Mei Mia Monica Nadia Naomi
		Nora Olivia Priya Rachel Rosa Ruby Sara Sofia Tamara Tina Valentina Vera Violet Yara Zoe`)
	maleNames = strings.Fields(`Aarav Adrian Ahmed Alex Andre Anthony Ben Brandon Brent Brian Carlos
		Chen Daniel Darius David Diego Edward Eric Ethan Felix Gabriel Hiro Isaac Jamal James Jin Josh
		Juan Kai Kenji Leo Liam Lucas Marco Mateo Matthew Max Mohammed Noah Omar Oscar Pablo Raj Ravi
		Ryan Samuel Santiago Theo Thomas Tyler Victor Wade William Yusuf Zane`)
	avatarLooks   = []string{"Upper Body", "Full Body", "Sitting", "Standing", "Front", "Side", "Closeup"}
	avatarOutfits = []string{"Black Suit", "Blue Shirt", "Casual Look", "White Blouse", "Grey Sweater",
		"Office Wear", "Denim Jacket", "Green Dress", "Business Attire", "Doctor Coat"}
	avatarPoses  = []string{"sitting_office_front", "standing_office_side", "sitting_sofa_front", "standing_lobby_front", "sitting_outdoor_side", "standing_studio_front"}
	voiceMoods   = []string{"", "", "", " - Friendly", " - Professional", " - Lifelike", " - Calm", " - Cheerful", " - Natural"}
	hgLanguages  = []string{"English", "English", "English", "English", "Spanish", "French", "German", "Portuguese", "Italian", "Japanese", "Korean", "Chinese", "Hindi", "Arabic", "Dutch", "Polish", "Turkish", "Russian", "Swedish", "Indonesian", "Vietnamese", "Multilingual"}
	photoNameSet = []string{"Veronica", "Marcus", "Helen", "Oliver", "Sunita", "Pierre", "Lena", "Tomas"}
)

// newHeyGenCatalog builds the catalog for seed.
func newHeyGenCatalog(seed int64) *heygenCatalog {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6865796765))
	c := &heygenCatalog{avatarByID: map[string]bool{}, photoByID: map[string]bool{}, voiceByID: map[string]bool{}}
	c.addVoices(rng)
	c.addAvatars(rng)
	c.addPhotos(rng)
	c.templates = seededTemplates(rng)
	return c
}

// addVoices adds the fixed voices, then generated ones.
func (c *heygenCatalog) addVoices(rng *rand.Rand) {
	fixed := []hgVoice{
		{ID: hgChillBrianID, Language: "English", Gender: "male", Name: "Chill Brian", SupportPause: true, Interactive: true},
		{ID: hgPostmanVoice, Language: "English", Gender: "female", Name: "Jenny - Professional", SupportPause: true, Emotion: true},
		{ID: "1bd001e7e50f421d891986aad5158bc8", Language: "English", Gender: "female", Name: "Sara", SupportPause: true},
		{ID: "16a09e4706f74997ba4ed05ea11470f6", Language: "English", Gender: "female", Name: "Abigail - Expressive", SupportPause: true, Emotion: true},
	}
	for _, v := range fixed {
		c.addVoice(v)
	}
	for n := 56 + rng.IntN(25); len(c.voices) < n; {
		gender, name := pickName(rng)
		c.addVoice(hgVoice{
			ID: randomString(rng, lowerHex, 32), Language: hgLanguages[rng.IntN(len(hgLanguages))],
			Gender: gender, Name: name + voiceMoods[rng.IntN(len(voiceMoods))],
			SupportPause: rng.IntN(10) < 8, Emotion: rng.IntN(4) == 0,
			Interactive: rng.IntN(3) == 0, Locale: rng.IntN(3) == 0,
		})
	}
}

// addVoice adds v unless its id is taken.
func (c *heygenCatalog) addVoice(v hgVoice) {
	if !c.voiceByID[v.ID] {
		c.voiceByID[v.ID] = true
		c.voices = append(c.voices, v)
	}
}

// addAvatars adds the fixed avatars, then 300–600 generated ones.
func (c *heygenCatalog) addAvatars(rng *rand.Rand) {
	abigailVoice, kristinVoice := "16a09e4706f74997ba4ed05ea11470f6", hgPostmanVoice
	fixed := []hgAvatar{
		{ID: hgAbigailID, Name: "Abigail (Upper Body)", Gender: "female", Tags: []string{"NEW", "AVATAR_IV"}, DefaultVoiceID: &abigailVoice},
		{ID: hgKristinID, Name: "Kristin in Black Suit", Gender: "female", Tags: []string{}, DefaultVoiceID: &kristinVoice},
		{ID: "josh_lite3_20230714", Name: "Josh Lite", Gender: "male"},
		{ID: "Brent_sitting_office_front", Name: "Brent Sitting Office Front", Gender: "male", Tags: []string{}},
	}
	for _, a := range fixed {
		c.addAvatar(a)
	}
	for n := 300 + rng.IntN(301); len(c.avatars) < n; {
		c.addAvatar(c.generatedAvatar(rng))
	}
}

// addAvatar adds a unless its id is taken.
func (c *heygenCatalog) addAvatar(a hgAvatar) {
	if !c.avatarByID[a.ID] {
		c.avatarByID[a.ID] = true
		c.avatars = append(c.avatars, a)
	}
}

// generatedAvatar invents one avatar in one of HeyGen's id styles.
func (c *heygenCatalog) generatedAvatar(rng *rand.Rand) hgAvatar {
	gender, name := pickName(rng)
	date := fmt.Sprintf("20%02d%02d%02d", 23+rng.IntN(3), 1+rng.IntN(12), 1+rng.IntN(28))
	a := hgAvatar{Gender: gender, Premium: rng.IntN(7) == 0}
	switch rng.IntN(5) {
	case 0:
		a.ID = fmt.Sprintf("%s_expressive_%s%02d", name, date, 1+rng.IntN(9))
		a.Name = fmt.Sprintf("%s (%s)", name, avatarLooks[rng.IntN(len(avatarLooks))])
	case 1:
		a.ID = fmt.Sprintf("%s_public_%d_%s", name, 1+rng.IntN(6), date)
		a.Name = name + " in " + avatarOutfits[rng.IntN(len(avatarOutfits))]
	case 2:
		a.ID = fmt.Sprintf("%s_lite%d_%s", strings.ToLower(name), 1+rng.IntN(5), date)
		a.Name = name + " Lite"
	case 3:
		pose := avatarPoses[rng.IntN(len(avatarPoses))]
		a.ID = name + "_" + pose
		a.Name = name + " " + titleWords(pose)
	default:
		a.ID = randomString(rng, lowerHex, 32)
		a.Name = name
		kind := "avatar"
		a.Type = &kind
	}
	a.Tags = pickTags(rng)
	if rng.IntN(10) < 7 {
		v := c.voiceFor(rng, gender)
		a.DefaultVoiceID = &v
	}
	return a
}

// pickTags returns tags in the proportions HeyGen's list shows, sometimes null.
func pickTags(rng *rand.Rand) []string {
	switch rng.IntN(10) {
	case 0, 1:
		return []string{"NEW", "AVATAR_IV"}
	case 2:
		return []string{"PREMIUM"}
	case 3, 4, 5:
		return nil
	default:
		return []string{}
	}
}

// voiceFor returns a voice id of the given gender.
func (c *heygenCatalog) voiceFor(rng *rand.Rand, gender string) string {
	for range 20 {
		v := c.voices[rng.IntN(len(c.voices))]
		if v.Gender == gender {
			return v.ID
		}
	}
	return hgChillBrianID
}

// addPhotos adds a few dozen talking photos.
func (c *heygenCatalog) addPhotos(rng *rand.Rand) {
	c.addPhoto(hgTalkingPhoto{ID: "6013fc758b5446a2ba17d8c459538bb4", Name: "Veronica"})
	for n := 30 + rng.IntN(20); len(c.photos) < n; {
		name := photoNameSet[rng.IntN(len(photoNameSet))]
		if rng.IntN(2) == 0 {
			_, name = pickName(rng)
		}
		c.addPhoto(hgTalkingPhoto{ID: randomString(rng, lowerHex, 32), Name: name})
	}
}

// addPhoto adds p unless its id is taken.
func (c *heygenCatalog) addPhoto(p hgTalkingPhoto) {
	if !c.photoByID[p.ID] {
		c.photoByID[p.ID] = true
		c.photos = append(c.photos, p)
	}
}

// seededTemplates returns the account's templates; the first is HeyGen's documented example
// and has the text variable "script".
func seededTemplates(rng *rand.Rand) []hgTemplate {
	text := func(name, content string) hgVariable {
		return hgVariable{Name: name, Type: "text", Properties: map[string]any{"content": content}}
	}
	return []hgTemplate{
		{ID: hgTemplateOneID, Name: "My Template # 1", AspectRatio: "landscape", Variables: []hgVariable{
			text("script", "Hello, welcome to our product tour."),
			{Name: "avatar_scene1", Type: "character", Properties: map[string]any{"character_id": hgAbigailID, "type": "avatar"}},
		}},
		{ID: randomString(rng, lowerHex, 32), Name: "Onboarding Welcome", AspectRatio: "portrait", HasThumbnail: true, Variables: []hgVariable{
			text("first_name", "there"), text("company", "Acme"),
			{Name: "background", Type: "image", Properties: map[string]any{"url": nil, "asset_id": nil, "fit": "cover"}},
		}},
		{ID: randomString(rng, lowerHex, 32), Name: "Weekly Update", AspectRatio: "landscape", HasThumbnail: true, Variables: []hgVariable{
			text("headline", "This week at a glance"),
			{Name: "narrator", Type: "voice", Properties: map[string]any{"voice_id": hgChillBrianID}},
		}},
	}
}

// template returns the template with id.
func (c *heygenCatalog) template(id string) (*hgTemplate, bool) {
	for i := range c.templates {
		if c.templates[i].ID == id {
			return &c.templates[i], true
		}
	}
	return nil, false
}

// pickName returns a gender and a first name of that gender.
func pickName(rng *rand.Rand) (string, string) {
	if rng.IntN(2) == 0 {
		return "female", femaleNames[rng.IntN(len(femaleNames))]
	}
	return "male", maleNames[rng.IntN(len(maleNames))]
}

// titleWords turns "sitting_office_front" into "Sitting Office Front".
func titleWords(s string) string {
	words := strings.Split(s, "_")
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
