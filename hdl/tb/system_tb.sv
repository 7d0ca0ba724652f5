// Testbench of the whole accelerator (tinyaccel_accel; embedded in the hdl crate, built
// with `verilator --binary`). It models main memory and the system bus, and plays the
// host: it loads a memory image, programs the MMIO registers, starts the accelerator,
// waits for STATUS.done, reads every counter over MMIO and dumps the memory.
//
// Bus (see hdl/README.md): `bus_req` marks a burst request (bus_req_addr, bus_req_len,
// bus_we), at most one per cycle; up to OUT requests may be outstanding (a request is
// outstanding from its request cycle through its last beat). Beats (`bus_beat`) serve
// the oldest outstanding request, in order: byte k of the bus is memory byte
// `bus_addr + k` for every strobed lane (lanes 0..n-1), and `bus_addr` must be the
// request's address plus the bytes already served; a beat may come no earlier than LAT
// cycles after its request (in the request cycle itself when LAT = 0). Reads are
// answered in the same cycle (`bus_rdata`), writes are committed at the clock edge.
// The command-fetch burst (CMDQ = 0) is the one request that may end early (the fetch
// stops at FINISH): it is dropped when the next request comes. With CMDQ > 0 the
// commands come over the command read port (cmd_*), checked the same way: requests of
// whole commands, at most 2 outstanding, beats of min(BUS, 16) bytes in order, no
// earlier than LAT cycles after their request, every request served to its end. Violations (more than OUT
// requests outstanding, a beat before its latency, without a request, at the wrong
// address, beyond the request's length, with the wrong direction or non-contiguous
// strobes, requests still outstanding at the end of the run) are counted as protocol
// errors.
//
// The host serves a sequence of command buffers in one process, so the accelerator's
// state (scratchpads, accumulators, PPU parameters) carries over from one buffer to the
// next as on the simulator; the counters are cleared (CTRL.clear) before every start.
// Plusarg: +dir=DIR (mem_in.bin in; result.txt and mem_out.hex out). Requests come on
// standard input, one per line, eight decimal numbers:
//   SEQ LO HI CMD_BASE CMD_COUNT MAX_CYCLES WLO WHI
// LO..HI: bytes of DIR/mem_in.bin (exactly HI-LO raw bytes) written to memory from byte
// LO before the run (the rest of the memory keeps what the previous runs left; it starts
// at zero); WLO..WHI: the bytes STOREs may write (a bus write outside is a protocol
// error; only this window is dumped to mem_out.hex, one byte per line). After the run
// the host writes result.txt and mem_out.hex and prints `done SEQ` on standard output.
// A line that is not eight numbers (e.g. `quit`) or the end of the input ends the
// simulation.
`default_nettype none
module system_tb #(
    parameter int BUS = 4,
    parameter int LAT = 10,
    parameter int MEM_BYTES = 16777216,
    parameter int OUT = 1,
    parameter int NCNT = 17,
    parameter int CMDQ = 0
);
    localparam int FB = (BUS < 16) ? BUS : 16;
    logic clk = 1'b0;
    logic rst = 1'b1;
    logic mmio_we = 1'b0;
    logic [7:0] mmio_addr = 8'h00;
    logic [31:0] mmio_wdata = 32'd0;
    logic [31:0] mmio_rdata;
    logic bus_req, bus_we, bus_beat;
    logic [31:0] bus_req_addr, bus_addr;
    logic [23:0] bus_req_len;
    logic [BUS-1:0] bus_strb;
    logic [8*BUS-1:0] bus_wdata;
    logic [8*BUS-1:0] bus_rdata;
    logic cmd_req, cmd_beat;
    logic [31:0] cmd_req_addr, cmd_addr;
    logic [23:0] cmd_req_len;
    logic [8*FB-1:0] cmd_rdata;

    tinyaccel_accel dut (
        .clk(clk), .rst(rst),
        .mmio_we(mmio_we), .mmio_addr(mmio_addr), .mmio_wdata(mmio_wdata),
        .mmio_rdata(mmio_rdata),
        .bus_req(bus_req), .bus_we(bus_we), .bus_req_addr(bus_req_addr),
        .bus_req_len(bus_req_len), .bus_beat(bus_beat), .bus_addr(bus_addr),
        .bus_strb(bus_strb), .bus_wdata(bus_wdata), .bus_rdata(bus_rdata),
        .cmd_req(cmd_req), .cmd_req_addr(cmd_req_addr), .cmd_req_len(cmd_req_len),
        .cmd_beat(cmd_beat), .cmd_addr(cmd_addr), .cmd_rdata(cmd_rdata)
    );

    always #5 clk <= ~clk;

    logic [7:0] mem [0:MEM_BYTES-1];

    // Read data of a beat: combinational.
    always_comb begin
        for (int k = 0; k < BUS; k++) begin
            if (bus_addr + k < MEM_BYTES) bus_rdata[8*k +: 8] = mem[bus_addr + k];
            else bus_rdata[8*k +: 8] = 8'h00;
        end
        for (int k = 0; k < FB; k++) begin
            if (cmd_addr + k < MEM_BYTES) cmd_rdata[8*k +: 8] = mem[cmd_addr + k];
            else cmd_rdata[8*k +: 8] = 8'h00;
        end
    end

    // Protocol checker and write port: the FIFO of outstanding requests.
    localparam int QN = 64;
    longint cycle = 0;
    logic [31:0] oq_addr [0:QN-1];
    int          oq_len [0:QN-1];
    int          oq_done [0:QN-1];
    longint      oq_cycle [0:QN-1];
    logic        oq_we [0:QN-1];
    logic        oq_fetch [0:QN-1];
    int oq_head = 0;
    int oq_n = 0;
    int proto_errors = 0;
    // The next request is the command fetch (only without the command read port, CMDQ = 0).
    logic first_req = CMDQ == 0;
    logic run_begin = 1'b0;      // host: a start is being written (re-arms first_req)
    int nstrb;
    int hi;
    logic strb_ok;
    /* verilator lint_off BLKSEQ */
    always @(posedge clk) begin
        cycle = cycle + 1;
        if (run_begin) first_req = CMDQ == 0;
        if (bus_req) begin
            // A fetch burst left at the head ends with the next request.
            if (oq_n > 0 && oq_fetch[oq_head]) begin
                oq_head = (oq_head + 1) % QN;
                oq_n = oq_n - 1;
            end
            if (oq_n >= QN) proto_errors = proto_errors + 1;
            else begin
                hi = (oq_head + oq_n) % QN;
                oq_addr[hi] = bus_req_addr;
                oq_len[hi] = int'(bus_req_len);
                oq_done[hi] = 0;
                oq_cycle[hi] = cycle;
                oq_we[hi] = bus_we;
                oq_fetch[hi] = first_req;
                oq_n = oq_n + 1;
                if (!first_req && oq_n > OUT) proto_errors = proto_errors + 1;
            end
            first_req = 1'b0;
        end
        if (bus_beat) begin
            nstrb = 0;
            strb_ok = 1'b1;
            for (int k = 0; k < BUS; k++) begin
                if (bus_strb[k]) begin
                    if (nstrb != k) strb_ok = 1'b0;
                    nstrb = nstrb + 1;
                end
            end
            if (oq_n == 0 || !strb_ok || nstrb == 0) proto_errors = proto_errors + 1;
            else begin
                hi = oq_head;
                if (cycle - oq_cycle[hi] < longint'(LAT) || bus_we != oq_we[hi]
                    || bus_addr != oq_addr[hi] + 32'(oq_done[hi])
                    || oq_done[hi] + nstrb > oq_len[hi])
                    proto_errors = proto_errors + 1;
                oq_done[hi] = oq_done[hi] + nstrb;
                if (oq_done[hi] >= oq_len[hi]) begin
                    oq_head = (oq_head + 1) % QN;
                    oq_n = oq_n - 1;
                end
            end
            if (bus_we) begin
                for (int k = 0; k < BUS; k++)
                    if (bus_strb[k]) begin
                        // Writes go only to the STORE window given by the host.
                        if (bus_addr + k < wlo || bus_addr + k >= whi)
                            proto_errors = proto_errors + 1;
                        else if (bus_addr + k < MEM_BYTES) mem[bus_addr + k] <= bus_wdata[8*k +: 8];
                    end
            end
        end
    end
    /* verilator lint_on BLKSEQ */

    // Command read port checker (CMDQ > 0): its own FIFO of outstanding requests.
    logic [31:0] cq_addr [0:3];
    int          cq_len [0:3];
    int          cq_done [0:3];
    longint      cq_cycle [0:3];
    int cq_head = 0;
    int cq_n = 0;
    int cq_errors = 0;
    int chi;
    /* verilator lint_off BLKSEQ */
    always @(posedge clk) begin
        if (cmd_req) begin
            if (cq_n >= 2 || cmd_req_len == 24'd0 || cmd_req_len % 16 != 0)
                cq_errors = cq_errors + 1;
            if (cq_n < 4) begin
                chi = (cq_head + cq_n) % 4;
                cq_addr[chi] = cmd_req_addr;
                cq_len[chi] = int'(cmd_req_len);
                cq_done[chi] = 0;
                cq_cycle[chi] = cycle;
                cq_n = cq_n + 1;
            end
        end
        if (cmd_beat) begin
            if (cq_n == 0) cq_errors = cq_errors + 1;
            else begin
                chi = cq_head;
                if (cycle - cq_cycle[chi] < longint'(LAT)
                    || cmd_addr != cq_addr[chi] + 32'(cq_done[chi])
                    || cq_done[chi] + FB > cq_len[chi])
                    cq_errors = cq_errors + 1;
                cq_done[chi] = cq_done[chi] + FB;
                if (cq_done[chi] >= cq_len[chi]) begin
                    cq_head = (cq_head + 1) % 4;
                    cq_n = cq_n - 1;
                end
            end
        end
    end
    /* verilator lint_on BLKSEQ */

    // The host.
    localparam int STDIN = 32'h8000_0000;
    localparam int STDOUT = 32'h8000_0001;
    string dir;
    longint seq;
    longint lo;
    longint hi_req;
    int cmd_base;
    int cmd_count;
    longint max_cycles;
    int fd;
    int fin;
    int got;
    int nreq;
    int wlo = 0;
    int whi = 0;
    typedef enum logic [3:0] {
        H_RESET, H_REQ, H_CLEAR, H_BASE, H_COUNT, H_START, H_WAIT, H_READ, H_DONE
    } hstate_t;
    hstate_t hs = H_RESET;
    int hcnt = 0;
    longint run_start = 0;
    int proto_base = 0;
    int cq_base = 0;
    logic timeout = 1'b0;
    logic [31:0] status = 32'd0;
    logic [31:0] err_index = 32'd0;
    logic [31:0] fetch_cycles = 32'd0;
    logic [63:0] counters [0:NCNT-1];
    int ridx = 0;

    initial begin
        if (!$value$plusargs("dir=%s", dir)) $fatal(1, "missing +dir=DIR");
    end

    // Blocking assignments: the request's fields, read and used in the same cycle.
    /* verilator lint_off BLKSEQ */
    always @(posedge clk) begin
        mmio_we <= 1'b0;
        run_begin <= 1'b0;
        case (hs)
            H_RESET: begin
                hcnt <= hcnt + 1;
                if (hcnt == 2) begin
                    rst <= 1'b0;
                    hs <= H_REQ;
                end
            end
            H_REQ: begin
                // Blocks until the next request (the simulation waits with it).
                nreq = $fscanf(STDIN, "%d %d %d %d %d %d %d %d", seq, lo, hi_req, cmd_base,
                               cmd_count, max_cycles, wlo, whi);
                if (nreq != 8) $finish;
                if (lo < 0 || hi_req < lo || hi_req > longint'(MEM_BYTES))
                    $fatal(1, "request %0d: image bytes %0d..%0d outside 0..%0d", seq, lo,
                           hi_req, MEM_BYTES);
                if (hi_req > lo) begin
                    fin = $fopen({dir, "/mem_in.bin"}, "rb");
                    if (fin == 0) $fatal(1, "cannot open %s/mem_in.bin", dir);
                    got = $fread(mem, fin, int'(lo), int'(hi_req - lo));
                    if (longint'(got) != hi_req - lo)
                        $fatal(1, "%s/mem_in.bin: read %0d of %0d bytes", dir, got, hi_req - lo);
                    $fclose(fin);
                end
                proto_base = proto_errors;
                cq_base = cq_errors;
                timeout <= 1'b0;
                hs <= H_CLEAR;
            end
            H_CLEAR: begin
                // CTRL.clear: the counters of this buffer only.
                mmio_we <= 1'b1; mmio_addr <= 8'h04; mmio_wdata <= 32'd2;
                hs <= H_BASE;
            end
            H_BASE: begin
                mmio_we <= 1'b1; mmio_addr <= 8'h0C; mmio_wdata <= cmd_base;
                hs <= H_COUNT;
            end
            H_COUNT: begin
                mmio_we <= 1'b1; mmio_addr <= 8'h10; mmio_wdata <= cmd_count;
                hs <= H_START;
            end
            H_START: begin
                mmio_we <= 1'b1; mmio_addr <= 8'h04; mmio_wdata <= 32'd1;
                run_begin <= 1'b1;
                run_start <= cycle;
                hs <= H_WAIT;
            end
            H_WAIT: begin
                mmio_addr <= 8'h08;
                if (mmio_addr == 8'h08 && !mmio_we && mmio_rdata[1]) begin
                    status <= mmio_rdata;
                    mmio_addr <= 8'h14;
                    hs <= H_READ;
                    ridx <= -2;
                end else if (cycle - run_start > max_cycles) begin
                    timeout <= 1'b1;
                    status <= mmio_rdata;
                    mmio_addr <= 8'h14;
                    hs <= H_READ;
                    ridx <= -2;
                end
            end
            H_READ: begin
                // One register per cycle: ERR_INDEX, FETCH_CYCLES, then counter lo/hi words.
                if (ridx == -2) begin
                    err_index <= mmio_rdata;
                    mmio_addr <= 8'h18;
                end else if (ridx == -1) begin
                    fetch_cycles <= mmio_rdata;
                    mmio_addr <= 8'h40;
                end else begin
                    if (ridx % 2 == 0) counters[ridx / 2][31:0] <= mmio_rdata;
                    else counters[ridx / 2][63:32] <= mmio_rdata;
                    mmio_addr <= 8'h40 + 8'(4 * (ridx + 1));
                end
                ridx <= ridx + 1;
                if (ridx == 2 * NCNT - 1) hs <= H_DONE;
            end
            H_DONE: begin
                fd = $fopen({dir, "/result.txt"}, "w");
                if (fd == 0) $fatal(1, "cannot open %s/result.txt", dir);
                $fwrite(fd, "status %08h\n", status);
                $fwrite(fd, "err_index %0d\n", err_index);
                $fwrite(fd, "fetch_cycles %0d\n", fetch_cycles);
                $fwrite(fd, "exec_cycles %0d\n", counters[0]);
                // This run's violations (bus and command port) and the requests still
                // outstanding at its end (a fetch burst may end early).
                $fwrite(fd, "proto_errors %0d\n", proto_errors - proto_base
                        + cq_errors - cq_base + cq_n
                        + ((oq_n > 0 && oq_fetch[oq_head]) ? oq_n - 1 : oq_n));
                $fwrite(fd, "timeout %0d\n", timeout);
                for (int i = 0; i < NCNT; i++) $fwrite(fd, "counter %0d %0d\n", i, counters[i]);
                $fclose(fd);
                if (whi > wlo) $writememh({dir, "/mem_out.hex"}, mem, wlo, whi - 1);
                $fwrite(STDOUT, "done %0d\n", seq);
                $fflush(STDOUT);
                hs <= H_REQ;
            end
            default: hs <= H_REQ;
        endcase
    end
    /* verilator lint_on BLKSEQ */
endmodule
`default_nettype wire
