#!/usr/bin/env python3
"""The benchmark workloads as plain PyTorch loops (Debian's python3-torch, the
same LibTorch as the C++ side): the same maths as bench/bare_loops.cpp.

    python3 bare_loops.py <lstm|mlp|wide|lenet5|ntm|ntm_batched_shift|dnc|dnc_batched_diagonal> <threads> <episodes> [data_folder]
"""
import gzip
import json
import sys
import time

import torch

WARMUP = 5


def time_loop(name, episodes, make, step):
    """Runs step(make(e)) per episode; prints the timing and the share of it
    spent making batches."""
    first = time.time()
    warm = time.perf_counter()
    making = 0.0
    for e in range(episodes):
        begin = time.perf_counter()
        batch = make(e)
        if e >= WARMUP:
            making += time.perf_counter() - begin
        step(batch)
        if e == WARMUP - 1:
            warm = time.perf_counter()
    seconds = time.perf_counter() - warm
    timed = episodes - WARMUP
    print(json.dumps({"workload": name, "first_episode_unix": first,
                      "timed_episodes": timed,
                      "ms_per_episode": 1000.0 * seconds / timed,
                      "batch_ms_per_episode": 1000.0 * making / timed}))


def recall_batch(gen, e, b, c, d, length):
    """A serial-recall batch as SerialRecallCommandLines generates it."""
    gen.manual_seed(e + 1)
    line = int(torch.randint(2, c, (1,), generator=gen).item())
    l = int(torch.randint(length, length + 1, (1,), generator=gen).item())
    bits = torch.bernoulli(torch.full((b, l, d), 0.5), generator=gen)
    t = 2 * l + 2
    x = torch.zeros(b, t, c + d)
    x[:, 0, 0] = 1.0
    x[:, 1:l + 1, c:] = bits
    x[:, l + 1, 1] = 1.0
    x[:, l + 2:, line] = 1.0
    y = torch.zeros(b, t, d)
    y[:, l + 2:, :] = bits
    mask = torch.zeros(b, t, 1, dtype=torch.uint8)
    mask[:, l + 2:, 0] = 1
    return x, y, mask, t


def recall_update(logits, batch, d, params, opt):
    """The masked loss, the statistics the worker reads, backward, clipping
    and the optimizer step, as the serial-recall workloads run them."""
    _, y, mask, _ = batch
    m = mask.float()
    loss = (torch.nn.functional.binary_cross_entropy_with_logits(
        logits, y, reduction="none") * m).sum() / (m.sum() * d)
    value = loss.item()
    acc = (((1.0 - (torch.sigmoid(logits).round() - y).abs()) * m).sum()
           / (m.sum() * d)).item()
    _ = value + acc
    loss.backward()
    torch.nn.utils.clip_grad_value_(params, 10.0)
    opt.step()


def lstm(episodes):
    c, d, b, length, h = 3, 8, 64, 10, 256
    torch.manual_seed(1)
    cell = torch.nn.LSTMCell(c + d, h)
    linear = torch.nn.Linear(h, d)
    params = list(cell.parameters()) + list(linear.parameters())
    opt = torch.optim.Adam(params, lr=0.01)
    gen = torch.Generator()

    def make(e):
        return recall_batch(gen, e, b, c, d, length)

    def step(batch):
        x, _, _, t = batch
        opt.zero_grad()
        hs = torch.zeros(b, h)
        cs = torch.zeros(b, h)
        outs = []
        for s in range(t):
            hs, cs = cell(x[:, s], (hs, cs))
            outs.append(hs)
        recall_update(linear(torch.stack(outs, 1)), batch, d, params, opt)

    time_loop("lstm", episodes, make, step)


def ntm(episodes, per_sample_shift=True):
    """The NTM of MI-Prometheus's configs/ntm/serial_recall.yaml written as
    its code is: a time-step loop, a linear layer per read head, content
    addressing with normalize + matmul, and a circular convolution looped
    over the samples (per_sample_shift; False shifts the batch at once, to
    measure what that loop costs)."""
    c, d, b, length, hidden, bits, shift = 3, 8, 64, 10, 20, 10, 3
    torch.manual_seed(1)
    ctrl = torch.nn.Linear(c + d + bits + hidden, hidden)
    read_heads = [torch.nn.Linear(hidden, bits + 3 + shift)]
    write = torch.nn.Linear(hidden, 3 * bits + 3 + shift)
    out = torch.nn.Linear(hidden + bits, d)
    params = [p for m in [ctrl, write, out] + read_heads for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=0.01)
    gen = torch.Generator()
    F = torch.nn.functional

    def split(prm, sizes):
        at, parts = 0, []
        for n in sizes:
            parts.append(prm[..., at:at + n])
            at += n
        return parts

    def convolve(att, kernel):  # [B, A, 1], [B, S, 1]
        a = att.size(1)
        ext = torch.tensor([(i + a) % a for i in range(-(shift // 2), a + shift // 2)])
        ext_att = torch.index_select(att, 1, ext).transpose(1, 2)
        k = kernel.transpose(1, 2)
        if per_sample_shift:
            out_ = torch.cat([F.conv1d(ext_att.narrow(0, i, 1), k.narrow(0, i, 1))
                              for i in range(att.size(0))], 0)
        else:
            out_ = (ext_att.unfold(2, shift, 1) * k.unsqueeze(2)).sum(-1)
        return out_.transpose(1, 2)

    def address(key, beta, gate, kern, gamma, memory, prev):
        kern = F.softmax(kern, dim=1).unsqueeze(2)
        gamma = F.softplus(gamma).unsqueeze(2) + 1
        key = torch.sigmoid(key).unsqueeze(1)
        beta = F.softplus(beta).unsqueeze(2) + 1
        gate = torch.sigmoid(gate).unsqueeze(2)
        sim = torch.matmul(F.normalize(memory, p=2, dim=2),
                           F.normalize(key, p=2, dim=2).transpose(1, 2))
        content = F.softmax(torch.matmul(sim, beta), dim=1)
        att = gate * content + (torch.ones_like(gate) - gate) * prev
        att = torch.pow(convolve(att, kern) + 1e-12, gamma)
        return F.normalize(att, p=1, dim=1)

    def make(e):
        return recall_batch(gen, e, b, c, d, length)

    def step(batch):
        x, _, _, t = batch
        opt.zero_grad()
        memory = torch.zeros(b, t, bits)
        att0 = torch.zeros(b, t, 1)
        att0[:, 0, 0] = 1
        read_att, write_att = [att0], att0
        reads = [torch.matmul(att0.transpose(1, 2), memory).squeeze(1)]
        h = torch.zeros(b, hidden)
        logits = []
        for xt in x.chunk(t, dim=1):
            h = torch.sigmoid(ctrl(torch.cat((torch.cat((xt.squeeze(1), *reads), 1), h), 1)))
            new_att, new_reads = [], []
            for i, layer in enumerate(read_heads):
                key, beta, gate, kern, gamma = split(layer(h), [bits, 1, 1, shift, 1])
                att = address(key, beta, gate, kern, gamma, memory, read_att[i])
                new_att.append(att)
                new_reads.append(torch.matmul(att.transpose(1, 2), memory).squeeze(1))
            key, beta, gate, kern, gamma, erase, add = split(
                write(h), [bits, 1, 1, shift, 1, bits, bits])
            write_att = address(key, beta, gate, kern, gamma, memory, write_att)
            erase = torch.sigmoid(erase).unsqueeze(1)
            add = torch.sigmoid(add).unsqueeze(1)
            memory = memory * (1 - torch.matmul(write_att, erase)) + torch.matmul(write_att, add)
            read_att, reads = new_att, new_reads
            logits.append(out(torch.cat((h, *reads), 1)))
        recall_update(torch.stack(logits, 1), batch, d, params, opt)

    time_loop("ntm" if per_sample_shift else "ntm_batched_shift", episodes, make, step)


def mlp(name, episodes, bits, b, hidden):
    torch.manual_seed(1)
    l1 = torch.nn.Linear(bits, hidden)
    l2 = torch.nn.Linear(hidden, 2)
    opt = torch.optim.Adam(list(l1.parameters()) + list(l2.parameters()), lr=0.01)
    gen = torch.Generator()

    def make(e):
        gen.manual_seed(e + 1)
        x = torch.bernoulli(torch.full((b, bits), 0.5), generator=gen)
        return x, (x.sum(1) > bits // 2).long()

    def step(batch):
        x, y = batch
        opt.zero_grad()
        logits = l2(torch.relu(l1(x)))
        loss = torch.nn.functional.cross_entropy(logits, y)
        value = loss.item()
        acc = logits.argmax(1).eq(y).double().mean().item()
        _ = value + acc
        loss.backward()
        opt.step()

    time_loop(name, episodes, make, step)


def lenet5(episodes, folder):
    with gzip.open(folder + "/train-images-idx3-ubyte.gz") as f:
        img = f.read()
    with gzip.open(folder + "/train-labels-idx1-ubyte.gz") as f:
        lab = f.read()
    n, used, b = 60000, 55000, 64
    images = torch.frombuffer(bytearray(img[16:]), dtype=torch.uint8).view(n, 1, 28, 28)
    images = torch.nn.functional.pad(images, (2, 2, 2, 2))
    labels = torch.frombuffer(bytearray(lab[8:]), dtype=torch.uint8).long()
    torch.manual_seed(1)
    c1, c2, c3 = torch.nn.Conv2d(1, 6, 5), torch.nn.Conv2d(6, 16, 5), torch.nn.Conv2d(16, 120, 5)
    f1, f2 = torch.nn.Linear(120, 84), torch.nn.Linear(84, 10)
    params = [p for m in (c1, c2, c3, f1, f2) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=0.001)
    gen = torch.Generator()
    gen.manual_seed(1)
    perm = torch.randperm(used, generator=gen)

    def make(e):
        begin = (e * b) % used
        idx = perm[begin:min(used, begin + b)]
        return images.index_select(0, idx).float().div_(255.0), labels.index_select(0, idx)

    def step(batch):
        x, y = batch
        opt.zero_grad()
        h = torch.max_pool2d(torch.relu(c1(x)), 2)
        h = torch.max_pool2d(torch.relu(c2(h)), 2)
        h = torch.relu(c3(h)).flatten(1)
        logits = f2(torch.relu(f1(h)))
        loss = torch.nn.functional.nll_loss(torch.log_softmax(logits, 1), y)
        value = loss.item()
        acc = logits.argmax(1).eq(y).double().mean().item()
        _ = value + acc
        loss.backward()
        opt.step()

    time_loop("lenet5", episodes, make, step)


def dnc(episodes, per_sample_diagonal=True):
    """The DNC of MI-Prometheus's dwm_baselines/dnc settings written as its
    code is (models/dnc): a time-step loop; its parameter generator, a linear
    layer per interface parameter, all of them computed at every step; memory
    [B, C, A] with content addressing by normalize + matmul; the link
    matrices' diagonals cleared per sample and write head
    (per_sample_diagonal; False masks the batch at once, to measure what that
    loop costs); the outputs concatenated step by step. The equations are the
    plugin's: only the previous write weights are not differentiated in the
    usage (MI-Prometheus left the whole usage out of the graph)."""
    c, d, b, length = 3, 8, 16, 10
    hidden, bits, reads, writes, shift = 20, 10, 1, 1, 3
    F = torch.nn.functional
    torch.manual_seed(1)
    ctrl = torch.nn.LSTMCell(c + d + reads * bits, hidden)
    output_gen = torch.nn.Linear(hidden, d)
    sizes = {"write_vect": writes * bits, "erase_vect": writes * bits, "free_gate": reads,
             "allocate_gate": writes, "write_gate": writes,
             "read_mode": reads * (1 + 2 * writes), "write_keys": writes * bits,
             "write_strengths": writes, "read_keys": reads * bits, "read_strengths": reads,
             "shifts": shift * writes, "sharpening": writes, "sharpening_r": reads,
             "shifts_r": shift * reads}
    gen_layers = {k: torch.nn.Linear(hidden, n) for k, n in sizes.items()}
    output_network = torch.nn.Linear(reads * bits, d)
    modules = [ctrl, output_gen] + list(gen_layers.values()) + [output_network]
    params = [p for m in modules for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=0.0005)
    gen = torch.Generator()

    def param_gen(h):
        g = {k: layer(h) for k, layer in gen_layers.items()}
        return {
            "write_vectors": g["write_vect"].view(-1, writes, bits),
            "erase_vectors": torch.sigmoid(g["erase_vect"]).view(-1, writes, bits),
            "free_gate": torch.sigmoid(g["free_gate"]).view(-1, reads, 1),
            "allocation_gate": torch.sigmoid(g["allocate_gate"]).view(-1, writes, 1),
            "write_gate": torch.sigmoid(g["write_gate"]).view(-1, writes, 1),
            "read_mode": F.softmax(g["read_mode"], -1).view(-1, reads, 1 + 2 * writes),
            "write_content_keys": g["write_keys"].view(-1, writes, bits),
            "write_content_strengths": 1 + F.softplus(g["write_strengths"]).view(-1, writes, 1),
            "read_content_keys": g["read_keys"].view(-1, reads, bits),
            "read_content_strengths": 1 + F.softplus(g["read_strengths"]).view(-1, reads, 1),
            "shifts": F.softmax(F.softplus(g["shifts"]), -1).view(-1, writes, shift),
            "shifts_read": F.softmax(F.softplus(g["shifts_r"]), -1).view(-1, reads, shift),
            "sharpening": 1 + F.softplus(g["sharpening"]).view(-1, writes, 1),
            "sharpening_read": 1 + F.softplus(g["sharpening_r"]).view(-1, reads, 1),
            "read_mode_shift": torch.sigmoid(gen_layers["free_gate"](h)).view(-1, reads, 1)}

    def similarity(keys, memory):  # memory [B, C, A]
        return torch.matmul(F.normalize(keys, dim=-1), F.normalize(memory, dim=-2))

    def outer(x, y):
        return x[..., :, None] * y[..., None, :]

    def allocation(usage):
        usage = 1e-6 + (1 - 1e-6) * usage
        sorted_usage, indices = torch.sort(usage, descending=False)
        ones = torch.ones((sorted_usage.shape[0], 1))
        before = torch.cumprod(torch.cat((ones, sorted_usage), dim=1), dim=1)[:, :-1]
        sorted_allocation = (1 - sorted_usage) * before
        unsorted = sorted_allocation.new(*sorted_allocation.size())
        unsorted.scatter_(1, indices, sorted_allocation)
        return unsorted

    def make(e):
        return recall_batch(gen, e, b, c, d, length)

    def step(batch):
        x, _, _, t = batch
        a = t  # as many addresses as steps
        opt.zero_grad()
        h, cell = torch.zeros(b, hidden), torch.zeros(b, hidden)
        memory = torch.zeros(b, bits, a)
        read_w = torch.ones(b, reads, a) * 1e-6
        write_w = torch.ones(b, writes, a) * 1e-6
        usage = torch.zeros(b, a)
        link = torch.ones(b, writes, a, a) * 1e-6
        precedence = torch.ones(b, writes, a) * 1e-6
        read_vector = torch.zeros(b, reads * bits)
        off_diagonal = 1 - torch.eye(a)
        output = None
        for s in range(t):
            h, cell = ctrl(torch.cat((x[:, s], read_vector), -1), (h, cell))
            out_h = output_gen(h)
            p = param_gen(h)
            # Usage, allocation (per write head), the write weighting.
            usage = usage + (1 - usage) * (1 - torch.prod(1 - write_w.detach(), 1))
            usage = usage * torch.prod(1 - p["free_gate"] * read_w, 1)
            gates = p["allocation_gate"] * p["write_gate"]
            allocations, u = [], usage
            for i in range(writes):
                allocations.append(allocation(u))
                u = u + (1 - u) * gates[:, i, :] * allocations[i]
            content = F.softmax(p["write_content_strengths"]
                                * similarity(p["write_content_keys"], memory), dim=-1)
            g = p["allocation_gate"]
            write_w = p["write_gate"] * (g * torch.stack(allocations, 1) + (1 - g) * content)
            # Erase, then add.
            memory = memory * torch.prod(1 - outer(p["erase_vectors"], write_w), dim=-3)
            memory = memory + torch.sum(outer(p["write_vectors"], write_w), dim=-3)
            # Temporal links and precedence.
            wi, wj = write_w.unsqueeze(3), write_w.unsqueeze(2)
            link = (1 - wi - wj) * link + wi * precedence.unsqueeze(2)
            if per_sample_diagonal:
                for i in range(b):
                    for j in range(writes):
                        diagonal = torch.diag(link[i, j, :, :])
                        link[i, j, :, :] = link[i, j, :, :] - torch.diag(diagonal)
            else:
                link = link * off_diagonal
            precedence = (1 - torch.sum(write_w, 2, keepdim=True)) * precedence + write_w
            # The read weighting: content, forward and backward along the links.
            content = F.softmax(p["read_content_strengths"]
                                * similarity(p["read_content_keys"], memory), dim=-1)
            expanded = torch.stack([read_w] * writes, dim=1)
            forward = torch.matmul(expanded, torch.transpose(link, 2, 3)).transpose(1, 2)
            backward = torch.matmul(expanded, link).transpose(1, 2)
            mode = p["read_mode"]
            read_w = (mode[:, :, 2 * writes].unsqueeze(2) * content
                      + torch.sum(mode[:, :, writes:2 * writes].unsqueeze(3) * forward, 2)
                      + torch.sum(mode[:, :, :writes].unsqueeze(3) * backward, 2))
            read_vector = torch.matmul(read_w, memory.transpose(-1, -2)).view(b, reads * bits)
            out = (out_h + output_network(read_vector))[:, None, :]
            output = out if output is None else torch.cat([output, out], dim=-2)
        recall_update(output, batch, d, params, opt)

    time_loop("dnc" if per_sample_diagonal else "dnc_batched_diagonal", episodes, make, step)


def main():
    workload, threads, episodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    if workload == "lstm":
        lstm(episodes)
    elif workload == "mlp":
        mlp(workload, episodes, 9, 64, 32)
    elif workload == "wide":
        mlp(workload, episodes, 1023, 256, 256)
    elif workload == "ntm":
        ntm(episodes)
    elif workload == "ntm_batched_shift":
        ntm(episodes, per_sample_shift=False)
    elif workload == "lenet5":
        lenet5(episodes, sys.argv[4] if len(sys.argv) > 4 else "/usr/share/datasets/fashion-mnist")
    elif workload == "dnc":
        dnc(episodes)
    elif workload == "dnc_batched_diagonal":
        dnc(episodes, per_sample_diagonal=False)
    else:
        sys.exit("unknown workload " + workload)


if __name__ == "__main__":
    main()
