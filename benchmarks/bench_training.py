"""Training-epoch time and masked-evaluation throughput of LeNet and BERT-Tiny on this machine.

Measures, for each model:

* **epoch**: seconds for one training epoch of :func:`twophase.pipeline.train.fit`'s inner loop
  (SGD, momentum 0.9, batch 128) over ``--train-samples`` synthetic samples (LeNet: MNIST-sized
  ``1 x 32 x 32`` images; BERT-Tiny: sentences of 12-30 words from a 500-word vocabulary, max
  length 48 tokens), and the derived training samples/s;
* **masked**: masked samples per second of :func:`twophase.game.masking.masked_rewards` (the
  ``tail`` on all ``2^n`` masked copies, ``n = 10`` players: LeNet 8x8 patch grid on the 1st-ReLU
  map, BERT-Tiny 10 words masked with ``[MASK]``), over ``--eval-samples`` samples.

Median of ``--repeat`` timed repetitions after one warm-up. Usage::

    python benchmarks/bench_training.py [--threads 2] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def _median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _epoch(model, batches, opt):
    model.train()
    for inputs, aux, y in batches:
        loss = F.cross_entropy(model(inputs, **aux), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def bench_lenet(train_samples: int, eval_samples: int, repeat: int, n: int) -> dict:
    from twophase.game.masking import masked_rewards
    from twophase.game.players import PatchPlayers
    from twophase.models import build_model

    torch.manual_seed(0)
    model = build_model("lenet", num_classes=10, in_channels=1, input_size=32)
    x = torch.randn(train_samples, 1, 32, 32)
    y = torch.randint(0, 10, (train_samples,))
    batches = [(x[i:i + 128], {}, y[i:i + 128]) for i in range(0, train_samples, 128)]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    t_epoch = _median_time(lambda: _epoch(model, batches, opt), repeat)

    model.eval()
    xe = torch.randn(eval_samples, 1, 32, 32)
    with torch.no_grad():
        feats = model.front(xe)
    players = PatchPlayers(grid=8, n=n, seed=0, border=1)
    target = torch.randint(0, 10, (eval_samples,))
    t_mask = _median_time(lambda: masked_rewards(model.tail, feats, players, target), repeat)
    return {"model": "lenet", "input": "1x32x32", "train_samples": train_samples,
            "epoch_s": t_epoch, "train_samples_per_s": train_samples / t_epoch,
            "eval_samples": eval_samples, "n": n, "masked_s": t_mask,
            "masked_samples_per_s": eval_samples * 2**n / t_mask,
            "player_layer": list(feats.shape[1:])}


def bench_bert_tiny(train_samples: int, eval_samples: int, repeat: int, n: int) -> dict:
    from twophase.data.tokenizer import encode_batch, train_wordpiece_tokenizer
    from twophase.game.masking import masked_rewards
    from twophase.game.players import WordPlayers
    from twophase.models import build_model

    g = torch.Generator().manual_seed(0)
    vocab = [f"word{i}" for i in range(500)]

    def sentence():
        k = int(torch.randint(12, 31, (1,), generator=g))
        return " ".join(vocab[int(j)] for j in torch.randint(0, 500, (k,), generator=g))

    texts = [sentence() for _ in range(train_samples)]
    tok = train_wordpiece_tokenizer(texts, vocab_size=1000, min_frequency=1)
    torch.manual_seed(0)
    model = build_model("bert-tiny", num_classes=2, tokenizer=tok)
    y = torch.randint(0, 2, (train_samples,))
    batches = []
    for i in range(0, train_samples, 128):
        enc = tok(texts[i:i + 128], padding=True, truncation=True, max_length=48,
                  return_tensors="pt")
        batches.append((enc["input_ids"], {"attention_mask": enc["attention_mask"]},
                        y[i:i + 128]))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    t_epoch = _median_time(lambda: _epoch(model, batches, opt), repeat)

    model.eval()
    enc = encode_batch(tok, texts[:eval_samples], 48)
    word_ids = [[None if w < 0 else w for w in row] for row in enc.word_ids.tolist()]
    bound = WordPlayers(n=n, seed=0, mask_token_id=tok.mask_token_id).bind(
        enc.input_ids, word_ids=word_ids, words=enc.words)
    target = torch.randint(0, 2, (eval_samples,))
    aux = {"attention_mask": enc.attention_mask}
    t_mask = _median_time(
        lambda: masked_rewards(model.tail, enc.input_ids, bound, target, aux=aux), repeat)
    return {"model": "bert-tiny", "input": f"<= 48 tokens (padded to {enc.input_ids.shape[1]})",
            "train_samples": train_samples, "epoch_s": t_epoch,
            "train_samples_per_s": train_samples / t_epoch, "eval_samples": eval_samples, "n": n,
            "masked_s": t_mask, "masked_samples_per_s": eval_samples * 2**n / t_mask}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--train-samples", type=int, default=2048)
    ap.add_argument("--eval-samples", type=int, default=8)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["lenet", "bert-tiny"], default=None)
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    if args.only in (None, "lenet"):
        results.append(bench_lenet(args.train_samples, args.eval_samples, args.repeat, args.n))
    if args.only in (None, "bert-tiny"):
        results.append(bench_bert_tiny(args.train_samples, args.eval_samples, args.repeat,
                                       args.n))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'model':<10} {'epoch (s)':>10} {'train samples/s':>16} {'masked samples/s':>17}")
    for r in results:
        print(f"{r['model']:<10} {r['epoch_s']:>10.3f} {r['train_samples_per_s']:>16.0f} "
              f"{r['masked_samples_per_s']:>17.0f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
