# Sourced by gpu/bench-there.sh and gpu/compare-there.sh: `compositor_renders` renders the same
# covers with the CPU and the GPU compositor, from software and NVDEC frames, into $W (JSON
# reports into $OUT), with $CF as the coverforge command.
compositor_renders() {
  for v in clip0001 clip0005 clip0017; do
    m="gpu/carry/clips/$v.yaml"; c="gpu/carry/clips/$v.mp4"
    $CF --hwaccel none --compositor cpu render "$c" --meta "$m" -o "$W/$v-cpu.png" >/dev/null
    $CF --hwaccel none --compositor cuda render "$c" --meta "$m" -o "$W/$v-gpu-upload.png" --json > "$OUT/$v-gpu-upload.json"; echo "$v software frame, GPU compositor: exit $?"
    $CF --hwaccel cuda --compositor cpu render "$c" --meta "$m" -o "$W/$v-nvdec-cpu.png" >/dev/null
    $CF --hwaccel cuda --compositor cuda render "$c" --meta "$m" -o "$W/$v-nvdec-gpu.png" --json > "$OUT/$v-nvdec-gpu.json"; echo "$v NVDEC frame kept on the GPU: exit $?"
    $CF --hwaccel none --compositor cpu render "$c" --meta "$m" -o "$W/$v-cpu.jpg" >/dev/null
    $CF --hwaccel cuda --compositor cuda render "$c" --meta "$m" -o "$W/$v-nvdec-gpu.jpg" >/dev/null
  done
  for s in cooking travel travel.thumb rotated anamorphic; do
    v=samples/${s%%.*}.mp4
    $CF --hwaccel none --compositor cpu render $v --meta samples/$s.yaml -o "$W/$s-cpu.png" >/dev/null
    $CF --hwaccel none --compositor cuda render $v --meta samples/$s.yaml -o "$W/$s-sw-gpu.png" >/dev/null; echo "$s GPU compositor, software frame: exit $?"
    $CF --hwaccel cuda --compositor cuda render $v --meta samples/$s.yaml -o "$W/$s-nvdec-gpu.png" --json > "$OUT/$s-nvdec-gpu.json"; echo "$s GPU compositor: exit $?"
  done
  # fit: contain (the frame letterboxed on the canvas colour), on NVDEC frames and software ones.
  sed -e 's/^fit: cover/fit: contain/' -e 's/background: "#000000"/background: "#203040"/' templates/douyin-9x16.yaml.tera > "$W/contain.yaml.tera"
  for a in none cuda; do
    $CF --hwaccel $a --compositor cpu render gpu/carry/clips/clip0002.mp4 --meta gpu/carry/clips/clip0002.yaml --template "$W/contain.yaml.tera" -o "$W/contain-$a-cpu.png" >/dev/null
    $CF --hwaccel $a --compositor cuda render gpu/carry/clips/clip0002.mp4 --meta gpu/carry/clips/clip0002.yaml --template "$W/contain.yaml.tera" -o "$W/contain-$a-gpu.png" >/dev/null; echo "contain ($a) GPU compositor: exit $?"
  done
}
