package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// pathColors fixes each path's color in the chart.
var pathColors = map[string]string{pathDirect: "#4c72b0", pathAIProxy: "#dd8452", pathBaseline: "#c44e52", pathNginx: "#55a868", pathGoProxy: "#8172b3"}

// chart draws the small JSON sweep as SVG: p99 (solid) and p50 (dashed)
// latency, on a log scale, against offered load, one color per path. In a
// run of several rounds it draws the sweep made before them.
func chart(rows []*row) string {
	const w, h, left, right, top, bottom = 760, 440, 70, 150, 40, 60
	type pt struct{ x, p50, p99 float64 }
	series := map[string][]pt{}
	maxX, minY, maxY := 0.0, math.Inf(1), 0.0
	for _, r := range rows {
		if r.Scenario != "small-json" || r.Requests == r.Errors || r.Round > 0 {
			continue
		}
		series[r.Path] = append(series[r.Path], pt{r.OfferedRPS, r.P50, r.P99})
		maxX = max(maxX, r.OfferedRPS)
		minY, maxY = min(minY, r.P50), max(maxY, r.P99)
	}
	if len(series) == 0 {
		return `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text x="10" y="25">no small-json data</text></svg>`
	}
	lo := math.Pow(10, math.Floor(math.Log10(max(minY, 0.01))))
	hi := math.Pow(10, math.Ceil(math.Log10(max(maxY, lo*10))))
	maxX = niceCeil(maxX)
	px := func(x float64) float64 { return left + x/maxX*(w-left-right) }
	py := func(y float64) float64 {
		return top + (1-(math.Log10(max(y, lo))-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo)))*(h-top-bottom)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">Small JSON invoke: latency against offered load (open loop)</text>`+"\n", left)
	for y := lo; y <= hi*1.0001; y *= 10 {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, w-right, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, fmtMs(y))
	}
	for i := 0; i <= 5; i++ {
		x := maxX * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>`, px(x), px(x), top, h-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>`+"\n", px(x), h-bottom+16, x)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", left, top, w-left-right, h-top-bottom)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">offered load (requests/s)</text>`+"\n", (left+w-right)/2, h-bottom+38)
	fmt.Fprintf(&b, `<text transform="translate(18,%d) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>`+"\n", (top+h-bottom)/2)
	ly := top + 10
	for _, path := range allPaths {
		pts := series[path]
		if len(pts) == 0 {
			continue
		}
		slices.SortFunc(pts, func(a, b pt) int { return int(a.x - b.x) })
		var p50, p99 []string
		for _, p := range pts {
			p50 = append(p50, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.p50)))
			p99 = append(p99, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.p99)))
		}
		c := pathColors[path]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(p99, " "))
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5,4" points="%s"/>`+"\n", c, strings.Join(p50, " "))
		for _, p := range pts {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, px(p.x), py(p.p99), c)
		}
		fmt.Fprintf(&b, "\n"+`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d">%s</text>`+"\n",
			w-right+12, w-right+36, ly, ly, c, w-right+42, ly+4, path)
		ly += 20
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">solid: p99</text>`+"\n", w-right+12, ly+8)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">dashed: p50</text>`+"\n", w-right+12, ly+26)
	b.WriteString("</svg>\n")
	return b.String()
}

func fmtMs(y float64) string {
	if y < 1 {
		return fmt.Sprintf("%g", y)
	}
	return fmt.Sprintf("%.0f", y)
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}
