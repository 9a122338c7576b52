#!/usr/bin/env python3
"""Build the tiny SigLIP image-text fixture for `crates/cuelab-models/tests/`.

Run with the reference venv (transformers 5.23, torch, sentencepiece, protobuf, tokenizers):

    python tools/reference/models/make_siglip_text_fixture.py

Writes, all small (random weights, tiny sizes):
- crates/cuelab-models/tests/data/siglip-text-tiny/: a random-weight `SiglipModel` (both towers,
  `config.json` + `model.safetensors` from `save_pretrained`), `spiece.model` (a small unigram
  SentencePiece model trained here with the `sentencepiece` package on generated captions, with the
  default `nmt_nfkc` normaliser and dummy prefix like the real checkpoints), the tokenizer files
  `SiglipTokenizer.save_pretrained` writes, and the preprocessor config.
- crates/cuelab-models/tests/data/siglip-text-tiny-json/tokenizer.json: the same vocabulary as a
  `tokenizer.json` (the tests pair it with the weights above). transformers 5.23 has no SigLIP fast-tokenizer converter, so the file is
  assembled here with the `tokenizers` package (SentencePiece unigram vocabulary; lowercase,
  punctuation removal, the spm `precompiled_charsmap`, whitespace collapsing; Metaspace; `$A </s>`).
- crates/cuelab-models/tests/data/spiece-variants/: two small identity-normalised SentencePiece
  models (no dummy prefix and kept whitespace; user-defined symbols) with `encode` pieces and ids.
- crates/cuelab-models/tests/data/reference/siglip_text_tiny.json: for ~200 varied strings the ids of
  `SiglipTokenizer` (`padding="max_length", truncation=True, max_length=64`, the documented SigLIP
  call) and of the assembled tokenizer.json (same padding/truncation); text embeddings
  (`get_text_features(input_ids)`, no attention mask: SigLIP was trained on padded sequences without
  one) for a subset; image embeddings of the test photos; `logits_per_image`; the logit scale/bias.
"""

import io
import json
import os
import random
import re
import shutil
import string

import numpy as np
import sentencepiece as spm
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data")
OUT = os.path.join(DATA, "siglip-text-tiny")
OUT_JSON = os.path.join(DATA, "siglip-text-tiny-json")
MAX_LEN = 64
VOCAB = 400

SUBJECTS = ["a dog", "two cats", "the red car", "an old man", "a small child", "three birds", "a wooden table",
            "the city skyline", "a bowl of fruit", "a woman", "some bicycles", "the train station", "a pizza",
            "an elephant", "the kitchen", "a laptop computer", "snowy mountains", "a cup of coffee"]
VERBS = ["sitting on", "standing next to", "running across", "looking at", "lying under", "parked near",
         "flying over", "placed on", "walking along", "jumping over", "hidden behind", "painted with"]
OBJECTS = ["the grass", "a beach", "the street", "a blue sofa", "the river", "a white wall", "the snow",
           "a green field", "the window", "a crowded market", "the bridge", "a large tree"]


def corpus(rng):
    """Generated caption-like training text for the tiny SentencePiece model."""
    lines = []
    for _ in range(3000):
        s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        if rng.random() < 0.3:
            s = s.capitalize()
        if rng.random() < 0.2:
            s += rng.choice([" at night", " in the rain", " during the day", " 2024", " with 3 friends"])
        lines.append(s)
    # a few accented / non-Latin words so they are in the character set
    lines += ["café crème brûlée naïve façade", "straße über größe", "東京 タワー 写真", "猫 と 犬", "привет мир",
              "numbers 0 1 2 3 4 5 6 7 8 9 10 100", "über cool déjà vu"] * 5
    # pseudo-words so the vocabulary has room for a few hundred pieces
    syll = ["ka", "lo", "mi", "tren", "qua", "sor", "bel", "vin", "dra", "pho", "ster", "ing", "tion", "er", "un"]
    for _ in range(1500):
        lines.append(" ".join("".join(rng.choice(syll) for _ in range(rng.randint(1, 3)))
                              for _ in range(rng.randint(2, 8))))
    return lines


def train_spm(rng):
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus(rng)),
        model_writer=buf,
        vocab_size=VOCAB,
        model_type="unigram",
        character_coverage=1.0,
        # SigLIP's layout: pad and eos share </s>, unk is <unk>; no bos
        pad_id=-1,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        control_symbols=["<pad>"],
        normalization_rule_name="nmt_nfkc",
        num_threads=1,
        hard_vocab_limit=False,
    )
    return buf.getvalue()


def strings(rng):
    """~200 varied strings for the tokenizer parity test."""
    out = [
        "a photo of a cat", "A Photo Of A Dog.", "a dog sitting on the grass", "", " ", "   \t\n  ",
        "!!!", "?!.,;:", "hello, world!", "Hello,World", "don't stop", "it's a dog's life", "e-mail",
        "well-known state-of-the-art", "(parenthesised) [bracketed] {braced}", "quotes \"double\" and 'single'",
        "a/b\\c|d", "100%", "$5.99", "#hashtag @mention", "a_b_c", "~tilde~ ^caret^ `backtick`", "a+b=c*d",
        "dots...", "multiple   spaces   here", "tabs\tand\nnewlines", "  leading and trailing  ",
        "non\u00a0breaking\u00a0space", "em\u2003space", "ideographic\u3000space", "zero\u200bwidth",
        "caf\u00e9", "cafe\u0301 (combining)", "na\u00efve fa\u00e7ade", "stra\u00dfe", "\u00dcBER GR\u00d6SSE",
        "\ufb01 ligature fi", "\uff21\uff22\uff23 fullwidth", "\u2460 circled one", "x\u00b2 superscript",
        "\u00bd half", "\u2122 trademark", "\u6771\u4eac \u30bf\u30ef\u30fc", "\u732b\u3068\u72ac", "\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440",
        "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd", "emoji \U0001f600\U0001f436", "\U0001f44d\U0001f3fd thumbs",
        "\u2581already\u2581underlined", "\u2581", "a \u2581 b", "</s>", "a cat</s>", "a </s> b", "<unk>",
        "x <unk> y", "<UNK> upper", "</S>", "<pad>", "a<pad>b", "\u00ab guillemets \u00bb", "\u201csmart quotes\u201d",
        "\u2014 em dash \u2013 en dash", "\u2026 ellipsis", "\u00bfqu\u00e9?", "\u00a1hola!", "\u00a7 section \u00b6",
        "control\u0007bell", "nul\u0000char", "soft\u00adhyphen", "CamelCaseWords", "ALL CAPS SENTENCE",
        "MiXeD cAsE", "I\u0307stanbul", "\u0130stanbul", "numbers 0 1 2 3 4 5 6 7 8 9 10 100",
        "3.14159", "1,000,000", "2024-01-01", "12:30pm", "http://example.com/path?q=1",
        "user@example.com", "a" * 200, "word " * 80, ("a dog running across the street " * 6).strip(),
        "x" * 63, "y " * 63, "z" * 64,
    ]
    words = sorted({w for s in SUBJECTS + VERBS + OBJECTS for w in s.split()})
    extra = list("ÀÉÎõüñçøåæœ") + ["東", "京", "\u00e9", "\U0001f600", "!", ",", ".", "'", "-", "  "]
    while len(out) < 210:
        n = rng.randint(1, 14)
        toks = []
        for _ in range(n):
            r = rng.random()
            if r < 0.7:
                w = rng.choice(words)
                if rng.random() < 0.2:
                    w = w.upper() if rng.random() < 0.5 else w.capitalize()
                toks.append(w)
            else:
                toks.append(rng.choice(extra))
        sep = rng.choice([" ", " ", " ", "  ", ", ", "\t"])
        out.append(sep.join(toks))
    return out


def build_tokenizer_json(spiece_bytes, tok):
    """A tokenizer.json equivalent of SiglipTokenizer (tokenizers package; no converter in 5.23)."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers.convert_slow_tokenizer import import_protobuf

    proto = import_protobuf().ModelProto.FromString(spiece_bytes)
    vocab = [(p.piece, p.score) for p in proto.pieces]
    unk_id = proto.trainer_spec.unk_id
    t = Tokenizer(Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    t.normalizer = normalizers.Sequence([
        normalizers.Lowercase(),
        normalizers.Replace(Regex("[" + re.escape(string.punctuation) + "]"), ""),
        normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap),
        normalizers.Replace(Regex(r"\s+"), " "),
        normalizers.Strip(),
    ])
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    t.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    eos = tok.eos_token_id
    t.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                     special_tokens=[("</s>", eos)])
    from tokenizers import AddedToken
    t.add_special_tokens([AddedToken("</s>", lstrip=True, rstrip=True, normalized=False, special=True),
                          AddedToken("<unk>", lstrip=True, rstrip=True, normalized=False, special=True)])
    return t


def fast_ids(t, texts, eos, pad):
    """tokenizer.json ids with the SigLIP call's truncation (eos kept last) and max_length padding."""
    rows = []
    for s in texts:
        ids = t.encode(s, add_special_tokens=False).ids
        ids = ids[: MAX_LEN - 1]
        if not ids or ids[-1] != eos:
            ids = ids + [eos]
        rows.append(ids + [pad] * (MAX_LEN - len(ids)))
    return rows


def randomize(model, seed):
    """Re-draw weights so activations are O(1) (the default init gives tiny outputs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                p.fill_(2.3)
            elif name == "logit_bias":
                p.fill_(-1.7)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                fan_in = p[0].numel() if "embedding" not in name or "patch" in name else 1
                std = 1.0 / np.sqrt(fan_in) if fan_in > 1 else 0.5
                p.copy_(std * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))


def spiece_variants(rng):
    """Small SentencePiece models with the other normaliser options (identity rule, no dummy prefix,
    kept whitespace, user-defined symbols) and `encode(out_type=str)` / ids of varied strings."""
    out_dir = os.path.join(DATA, "spiece-variants")
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    lines = corpus(rng)
    variants = {
        "identity_nodummy_keepspace": dict(add_dummy_prefix=False, remove_extra_whitespaces=False,
                                           user_defined_symbols=["<img>", "ab", "▁the"]),
        "identity_default_userdef": dict(user_defined_symbols=["<img>", "dog", "x y"]),
    }
    probes = ["a dog", "  a   dog  ", "<img> a dog<img>", "abab the dog", "the  red car", "▁the car", "",
              "   ", "x y z", "é 東京 😀 unkÿ", "Mixed CASE Dog", "tab\there\nnl",
              "dogdogdog", "ab", "a b"]
    ref = {"probes": probes, "models": {}}
    for name, opts in variants.items():
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, vocab_size=150,
                                       model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
                                       normalization_rule_name="identity", num_threads=1, **opts)
        path = os.path.join(out_dir, f"{name}.model")
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
        ref["models"][name] = {
            "pieces": [sp.encode(p, out_type=str) for p in probes],
            "ids": [sp.encode(p) for p in probes],
        }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=False)


def main():
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipTokenizer

    rng = random.Random(7)
    torch.manual_seed(0)
    for d in (OUT, OUT_JSON):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)

    spiece = train_spm(rng)
    spiece_variants(random.Random(8))
    with open(os.path.join(OUT, "spiece.model"), "wb") as f:
        f.write(spiece)
    tok = SiglipTokenizer(vocab_file=os.path.join(OUT, "spiece.model"), model_max_length=MAX_LEN)
    tok.save_pretrained(OUT)
    vocab_size = tok.vocab_size

    cfg = SiglipConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=24, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=MAX_LEN, projection_size=32,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=16),
    )
    model = SiglipModel(cfg)
    randomize(model, 11)
    model.eval()
    model.save_pretrained(OUT, safe_serialization=True)
    proc = SiglipImageProcessor(size={"height": 64, "width": 64})
    proc.save_pretrained(OUT)

    # tokenizer.json alone (the tests copy the weights next to it)
    fast = build_tokenizer_json(spiece, tok)
    fast.save(os.path.join(OUT_JSON, "tokenizer.json"))

    texts = strings(rng)
    enc = tok(texts, padding="max_length", truncation=True, max_length=MAX_LEN)
    assert "attention_mask" in enc  # returned, but SigLIP is run without it (see module doc)
    ids = enc["input_ids"]
    assert all(len(r) == MAX_LEN for r in ids)
    fids = fast_ids(fast, texts, tok.eos_token_id, tok.pad_token_id)
    same = sum(a == b for a, b in zip(ids, fids))
    print(f"tokenizer.json agrees with SiglipTokenizer on {same} of {len(texts)} strings")

    embed_idx = [0, 1, 2, 3, 4, 6, 8, 21, 25, 26, 31, 35, 44, 47, 53, 57, 88, 89, 91, 93]
    embed_texts = [texts[i] for i in embed_idx]
    images = {
        "kafka.jpg": Image.open(os.path.join(DATA, "images", "kafka.pillow.png")).convert("RGB"),
        "kafka_400x267.png": Image.open(os.path.join(DATA, "images", "kafka_400x267.png")).convert("RGB"),
    }
    with torch.no_grad():
        input_ids = torch.tensor([ids[i] for i in embed_idx])
        text_emb = model.get_text_features(input_ids=input_ids).pooler_output
        px = proc(images=list(images.values()), return_tensors="pt")["pixel_values"]
        image_emb = model.get_image_features(pixel_values=px).pooler_output
        out = model(input_ids=input_ids, pixel_values=px)
        masked = model.get_text_features(input_ids=input_ids,
                                         attention_mask=torch.tensor([enc["attention_mask"][i] for i in embed_idx]))
    diff = (masked.pooler_output - text_emb).abs().max().item()
    print(f"text embeddings with vs without the tokenizer's attention mask: max abs diff {diff:.3g}")
    ref = {
        "transformers": __import__("transformers").__version__,
        "sentencepiece": spm.__version__,
        "max_length": MAX_LEN,
        "pad_id": tok.pad_token_id,
        "eos_id": tok.eos_token_id,
        "texts": texts,
        "ids": ids,
        "tokenizer_json_ids": fids,
        "embed_texts": embed_idx,
        "text_embeddings": text_emb.tolist(),
        "images": list(images.keys()),
        "image_embeddings": image_emb.tolist(),
        "logits_per_image": out.logits_per_image.tolist(),
        "logit_scale": model.logit_scale.item(),
        "logit_bias": model.logit_bias.item(),
    }
    with open(os.path.join(DATA, "reference", "siglip_text_tiny.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=False)
    for d in (OUT, OUT_JSON):
        print(d, sorted(os.listdir(d)), sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d)))


if __name__ == "__main__":
    main()
