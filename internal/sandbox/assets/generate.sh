#!/bin/sh
# generate.sh rebuilds the sandbox's embedded media with ffmpeg (libx264, libmp3lame,
# libwebp). It is run by hand, once; the binary embeds the results and never needs ffmpeg.
#
#   video.mp4       3 s, 160x90, 10 fps H.264 + AAC, faststart: every rendered video
#   thumbnail.jpeg  first frame of video.mp4
#   video.gif       80 px wide animated GIF of video.mp4
#   avatar.webp     128x128 preview image for avatars and talking photos
#   speech/<format>/NN.mp3   voiced "syllables" (NN = 00..11, rising pitch) and one
#                            silence clip (sil.mp3) per MP3 output format, without ID3
#                            or Xing headers so that clips concatenate frame by frame.
set -eu
cd "$(dirname "$0")"
ff="ffmpeg -hide_banner -loglevel error -y"

$ff -f lavfi -i testsrc2=size=160x90:rate=10:duration=3 \
    -f lavfi -i "sine=frequency=220:duration=3:sample_rate=22050" \
    -c:v libx264 -preset veryslow -crf 38 -pix_fmt yuv420p -profile:v baseline \
    -c:a aac -b:a 16k -ac 1 -movflags +faststart -map_metadata -1 video.mp4
$ff -i video.mp4 -frames:v 1 -q:v 6 thumbnail.jpeg
$ff -i video.mp4 -vf "fps=5,scale=80:-1:flags=lanczos" -loop 0 video.gif
$ff -f lavfi -i "gradients=size=128x128:seed=7:nb_colors=3" -frames:v 1 -quality 60 avatar.webp

rm -rf speech
for fmt in mp3_22050_32 mp3_24000_48 mp3_44100_32 mp3_44100_64 mp3_44100_96 mp3_44100_128 mp3_44100_192; do
  rate=$(echo "$fmt" | cut -d_ -f2)
  kbps=$(echo "$fmt" | cut -d_ -f3)
  mkdir -p "speech/$fmt"
  enc="-ac 1 -ar $rate -c:a libmp3lame -b:a ${kbps}k -write_xing 0 -id3v2_version 0 -map_metadata -1 -f mp3"
  i=0
  while [ $i -lt 12 ]; do
    f=$((110 + i * 14))
    expr="0.35*sin(PI*t/0.16)*(sin(2*PI*$f*t)+0.5*sin(4*PI*$f*t)+0.25*sin(6*PI*$f*t))"
    $ff -f lavfi -i "aevalsrc=$expr:duration=0.16:sample_rate=$rate" $enc "speech/$fmt/$(printf %02d $i).mp3"
    i=$((i + 1))
  done
  $ff -f lavfi -i "anullsrc=r=$rate:cl=mono" -t 0.12 $enc "speech/$fmt/sil.mp3"
done
