"""au-predict's throughput on CPU: frames per second, end to end, on a generated video.

The video is skimage's astronaut photograph (512 x 512, one face, and one weak false detection at
dlib's default threshold), shifted by a few pixels each frame. au-predict runs on it following the
face between whole-frame searches every --detect-every frames (its default), --rounds times (the median
is reported: one run's rate varies by a third on a shared 2-core VM), and once searching every frame
(--detect-every 1). The model is a paper net's deploy
prototxt with untrained weights (the speed does not depend on their values) and a model card
written by tools/nets/model_card.py for an 11-AU dataset, as `make train` leaves them. Besides the end-to-end
rate (au-predict's own loop: decode, detect, landmarks, align, forward in batches, CSV), it times
the two stages apart: detection with landmarks and alignment per frame, and the forward pass per face.

  python bench/bench_predict.py --json runs/bench_predict.json                 # DSCMR, 48 frames
  python bench/bench_predict.py --json runs/p.json --method ldscmr --frames 24 --upsample 0
make bench runs it with the other benches (bench/run.py); --quick uses 8 frames and one round.
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import cv2
import numpy as np

from bench.common import bench_args, load_average, write_result
from data_prep.faces.align import align_face
from data_prep.faces.detect import Landmarker
from dscmr import methods
from dscmr.paper import EMOTIONET_AUS
from tools import generate_prototxt as gen
from tools.nets import model_card
from tools.predict import cli
from tools.predict.model import AUModel

FPS = 25.0


def astronaut_video(path, frames):
    from skimage import data
    image = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, image.shape[1::-1])
    for i in range(frames):
        shift = np.float32([[1, 0, 3 * np.sin(i / 3)], [0, 1, 2 * np.cos(i / 4)]])
        writer.write(cv2.warpAffine(image, shift, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return image


def untrained_model(root, method):
    """runs/<method>_iter_0.caffemodel with its card, under root; unit running variances, so that
    the untrained BatchNorm and Region statistics give numbers rather than NaN."""
    import caffe
    data = root / "data" / "bench"
    data.mkdir(parents=True)
    (data / "manifest.json").write_text(json.dumps({"dataset": "bench", "aus": list(EMOTIONET_AUS)}))
    gen.main(["--out", str(root / "prototxt"), "--data", "data/bench", "--only", method])
    model_card.write(f"prototxt/{method}_solver.prototxt", root=root)
    net = caffe.Net(str(root / "prototxt" / f"{method}_deploy.prototxt"), caffe.TEST)
    for layer in net.layer_dict.values():
        if layer.type in ("BatchNorm", "Region"):
            layer.blobs[-2].data[...] = 1
            layer.blobs[-1].data[...] = 1
    weights = root / "runs" / f"{method}_iter_0.caffemodel"
    net.save(str(weights))
    return weights


def options(ap):
    ap.add_argument("--method", default="dscmr", choices=methods.PAPER_KEYS, help="the paper net (default: dscmr)")
    ap.add_argument("--frames", type=int, default=48, help="frames in the video (default: %(default)s)")
    ap.add_argument("--detect-every", type=int, default=cli.DETECT_EVERY,
                    help="au-predict's --detect-every for the first run (default: au-predict's, %(default)s)")
    ap.add_argument("--batch-size", type=int, default=16, help="au-predict's --batch-size (default: %(default)s)")
    ap.add_argument("--upsample", type=int, default=1, help="au-predict's --upsample (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs following the face; the median is reported (default: %(default)s)")


def main(argv=None):
    opts = bench_args(__doc__, argv, options)
    if opts.quick:
        opts.frames, opts.rounds = min(opts.frames, 8), 1
    loads = [load_average()]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        image = astronaut_video(root / "astronaut.avi", opts.frames)
        weights = untrained_model(root, opts.method)

        def predict(every):
            """(seconds, faces found) of one au-predict run at --detect-every `every`."""
            out = root / f"every{every}.csv"
            t0 = time.perf_counter()
            rc = cli.main(["--weights", str(weights), str(root / "astronaut.avi"), "--out", str(out),
                           "--batch-size", str(opts.batch_size), "--upsample", str(opts.upsample),
                           "--detect-every", str(every), "--no-progress"])
            seconds = time.perf_counter() - t0
            if rc != 0:
                sys.exit(f"bench_predict: au-predict exited {rc}")
            return seconds, sum(1 for line in out.read_text().splitlines()[1:] if line.split(",")[4] == "1")

        tracked = [predict(opts.detect_every) for _ in range(opts.rounds)]
        every_frame, every_frame_faces = predict(1)
        faces = {opts.detect_every: tracked[-1][1], 1: every_frame_faces}
        end_to_end = float(np.median([s for s, _ in tracked]))
        rates = sorted(round(opts.frames / s, 2) for s, _ in tracked)

        landmarker = Landmarker("dlib68", opts.upsample)
        t0 = time.perf_counter()
        found = landmarker.faces(image)
        aligned = [align_face(image, lm)[0] for _, _, lm in found]
        detect_align = time.perf_counter() - t0
        model = AUModel(weights)
        batch = (aligned * opts.batch_size)[:opts.batch_size]
        model.predict(batch)
        t0 = time.perf_counter()
        model.predict(batch)
        forward = time.perf_counter() - t0

    result = {
        "benchmark": "au-predict throughput on CPU",
        "method": opts.method, "frames": opts.frames, "frame_size": list(image.shape[:2]),
        "faces": faces[opts.detect_every], "batch_size": opts.batch_size, "upsample": opts.upsample,
        "detect_every": opts.detect_every,
        "end_to_end_s": round(end_to_end, 3), "frames_per_s": round(opts.frames / end_to_end, 3),
        "rounds_frames_per_s": rates,
        "every_frame": {"detect_every": 1, "faces": faces[1], "end_to_end_s": round(every_frame, 3),
                        "frames_per_s": round(opts.frames / every_frame, 3)},
        "detect_align_ms_per_frame": round(1000 * detect_align, 1),
        "forward_ms_per_face": round(1000 * forward / opts.batch_size, 1),
        "cpus": len(os.sched_getaffinity(0)), "load_average": loads + [load_average()],
        "note": "end to end includes loading the net and dlib's models",
    }
    md = (f"`au-predict` on a {result['frames']}-frame {image.shape[1]} x {image.shape[0]} video of skimage's "
          f"astronaut, {opts.method} deploy net, batch {opts.batch_size}, upsample {opts.upsample}: "
          f"**{result['frames_per_s']:.2f} frames/s** end to end (net and dlib loading included; "
          f"{f'the median of {opts.rounds} runs: ' if opts.rounds > 1 else 'one run: '}{', '.join(map(str, rates))}) "
          f"following the face "
          f"between whole-frame searches every {opts.detect_every} frames ({faces[opts.detect_every]} faces found), "
          f"{result['every_frame']['frames_per_s']:.2f} frames/s searching every frame (`--detect-every 1`, "
          f"{faces[1]} faces); a whole-frame search with landmarks and alignment takes "
          f"{result['detect_align_ms_per_frame']:.0f} ms, the forward pass "
          f"{result['forward_ms_per_face']:.0f} ms a face. Load average before and after: "
          f"{result['load_average'][0][0]}, {result['load_average'][-1][0]}.")
    write_result(opts.json, "predict", "au-predict throughput", md, result)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
