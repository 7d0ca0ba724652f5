// tinyaccel_system: the whole accelerator around the compute core (docs/architecture.md is
// the contract; hdl/README.md "System" documents the ports and the bus).
//
// - MMIO registers (section 7 of the architecture): ID, CTRL, STATUS, CMD_BASE, CMD_COUNT,
//   ERR_INDEX, FETCH_CYCLES (0x18), 64-bit counters at 0x40 + 8*i.
// - Command fetch, CMDQ = 0 (the ideal queues of cmd_queue_depth = 0; simulation only):
//   CTRL.start reads the command buffer at CMD_BASE in one bus burst (min(BUS, 16) bytes
//   per beat), checks each opcode and routes the command into the load, compute or store
//   queue (QDEPTH entries each), up to and including FINISH. The execution phase starts
//   the cycle after the fetch; `cycles` counts the execution phase only, FETCH_CYCLES the
//   fetch.
// - Command fetch, CMDQ > 0 (cmd_queue_depth, a power of two; QDEPTH = CMDQ): the
//   streaming fetch of docs/architecture.md section 5 on the command read port (cmd_*):
//   bursts of FBURST commands, at most FOUT in flight, one request per cycle, beats of
//   min(BUS, 16) bytes from LAT cycles after the request; the beat that completes a
//   command waits while that command's queue is full (occupancy at the start of the
//   cycle), and the command is in its queue from the next cycle. Execution runs from the
//   first cycle after CTRL.start, overlapped with the fetch; `cycles` counts from there
//   until the engines are idle, every queue is empty and the fetch is done (FINISH
//   received, nothing in flight). FETCH_CYCLES: the cycles until the fetch was done.
// - Dataflow: OS = 1 output-stationary, IS = 1 input-stationary, both 0 weight-stationary
//   (the compute engine's read pattern and the write-back order of docs/architecture.md 3).
// - Execution: the three engines with the four token counters (L2C, C2L, C2S, S2C), one
//   compute engine feeding the core, one DMA engine shared by the load and store queues
//   with sticky arbitration, cycle for cycle as `sim::cycle`.
// - Scratchpads: input (IN_LINES lines of ROWS bytes), weight (W_LINES x COLS bytes),
//   accumulator (ACC_LINES x COLS int32, read-modify-write port + STORE read port + write
//   port), synchronous (registered) reads. The bank of a line decides LOAD/core
//   collisions (the core wins; the LOAD beat waits).
// - DMA: every command is a sequence of pieces (LOAD, STORE: one per row; LOAD_PARAMS:
//   one; LOAD_IM2COL: the pieces of tinyaccel_im2col_agu). The request side issues one
//   piece per cycle while fewer than OUTSTANDING are in flight (tinyaccel_dma_track);
//   the beat side serves the oldest piece: LAT cycles after its request (0 for a pad
//   piece, which never reaches the bus), beats of BUS bytes, in order. LOAD scatters a
//   beat into its lines (a transposing LOAD writes one lane of up to BUS lines); STORE
//   streams accumulator lines through the PPU into a small reorder buffer ahead of the
//   beats. With OUTSTANDING = 1 this is one burst (LAT wait cycles, then the beats) per
//   row, as before pipelining.
// - IM2COL = 1: CONV_GEOM (opcode 5) sets the window registers in one DMA cycle,
//   LOAD_IM2COL (opcode 6) loads a tile of the implicit im2col matrix; with IM2COL = 0
//   both are rejected like an unknown opcode.
// - Vector unit (docs/architecture.md 3.5) when any of DEPTHWISE (MAC), POOLING (SUM,
//   MAX) and ELTWISE (ADD) is 1: VSET (opcode 7) and VCOMPUTE (opcode 8) go to the
//   compute queue; VSET writes the unit's mode registers in one compute-engine cycle
//   (they are reset at every start); VCOMPUTE reads one input line (MAC: and one weight
//   line; ADD: one weight line per position) per cycle through the core's read ports
//   (bank conflicts with LOAD beats as for COMPUTE), and the unit's results go through
//   the accumulator write-back (ACCUMULATE: add, MAX mode: the larger). Without the
//   unit both opcodes are rejected like an unknown opcode.
module tinyaccel_system #(
    parameter ROWS = 4,
    parameter COLS = 4,
    parameter OS = 1,
    parameter IS = 0,
    parameter IN_LINES = 2048,
    parameter W_LINES = 2048,
    parameter ACC_LINES = 256,
    parameter IN_BANKS = 2,
    parameter W_BANKS = 2,
    parameter BUS = 4,
    parameter LAT = 10,
    parameter QDEPTH = 8192,
    parameter QW = 14,
    parameter PENTRIES = 64,
    parameter IM2COL = 0,
    parameter OUTSTANDING = 1,
    parameter DEPTHWISE = 0,
    parameter POOLING = 0,
    parameter ELTWISE = 0,
    parameter CMDQ = 0
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              mmio_we,
    input  wire [7:0]        mmio_addr,
    input  wire [31:0]       mmio_wdata,
    output reg  [31:0]       mmio_rdata,
    output reg               bus_req,
    output reg               bus_we,
    output reg  [31:0]       bus_req_addr,
    output reg  [23:0]       bus_req_len,
    output reg               bus_beat,
    output reg  [31:0]       bus_addr,
    output reg  [BUS-1:0]    bus_strb,
    output reg  [8*BUS-1:0]  bus_wdata,
    input  wire [8*BUS-1:0]  bus_rdata,
    // Command read port (CMDQ > 0; idle otherwise): requests of `cmd_req_len` bytes at
    // `cmd_req_addr`, beats of min(BUS, 16) bytes at `cmd_addr` (read data in the same
    // cycle, as on the system bus).
    output reg               cmd_req,
    output reg  [31:0]       cmd_req_addr,
    output reg  [23:0]       cmd_req_len,
    output reg               cmd_beat,
    output reg  [31:0]       cmd_addr,
    input  wire [8*((BUS < 16) ? BUS : 16)-1:0] cmd_rdata
);
    localparam FB = (BUS < 16) ? BUS : 16;   // command bytes per fetch beat
    localparam QI = QW - 1;                  // queue index bits (QDEPTH = 2**QI)
    localparam SDEPTH = 8;                   // STORE reorder buffer entries
    localparam L2C = 0, C2L = 1, C2S = 2, S2C = 3;
    localparam PH_IDLE = 2'd0, PH_FETCH = 2'd1, PH_EXEC = 2'd2, PH_DRAIN = 2'd3;
    localparam FBURST = 8;                   // commands per fetch burst (FETCH_BURST_CMDS)
    localparam FOUT = 2;                     // fetch bursts in flight (FETCH_OUTSTANDING)
    localparam K_LOAD = 3'd0, K_PARAMS = 3'd1, K_STORE = 3'd2, K_IM2COL = 3'd3, K_GEOM = 3'd4;
    localparam NCNT = 20;
    localparam VPU = (DEPTHWISE != 0 || POOLING != 0 || ELTWISE != 0) ? 1 : 0;
    localparam V_MAC = 2'd0, V_SUM = 2'd1, V_MAX = 2'd2, V_ADD = 2'd3;
    localparam TW = 90;                      // tracking FIFO entry (tinyaccel_dma_track)
    localparam [31:0] ID_VALUE = 32'h7A1A_0001;

    // ------------------------------------------------------------------ storage
    reg [7:0]  isp [0:IN_LINES*ROWS-1];
    reg [7:0]  wsp [0:W_LINES*COLS-1];
    reg [32*COLS-1:0] accm [0:ACC_LINES-1];
    reg [7:0]  prm [0:12*PENTRIES-1];
    reg [127:0] lq [0:QDEPTH-1];
    reg [127:0] cq [0:QDEPTH-1];
    reg [127:0] sq [0:QDEPTH-1];
    reg [31:0] lqi [0:QDEPTH-1];
    reg [31:0] cqi [0:QDEPTH-1];
    reg [31:0] sqi [0:QDEPTH-1];
    reg [32*COLS-1:0] sbuf [0:SDEPTH-1];
    integer ii;
    initial begin
        for (ii = 0; ii < IN_LINES*ROWS; ii = ii + 1) isp[ii] = 8'd0;
        for (ii = 0; ii < W_LINES*COLS; ii = ii + 1) wsp[ii] = 8'd0;
        for (ii = 0; ii < ACC_LINES; ii = ii + 1) accm[ii] = {32*COLS{1'b0}};
        for (ii = 0; ii < 12*PENTRIES; ii = ii + 1) prm[ii] = 8'd0;
    end

    // ------------------------------------------------------------------ bank of a line
    function automatic [31:0] bank_of(input [31:0] lines, input [31:0] banks, input [31:0] line);
        reg [31:0] half_lines, half, per_bank, b;
        begin
            if (banks < 2) bank_of = 0;
            else begin
                half_lines = (lines / 2 > 0) ? lines / 2 : 1;
                half = (line / half_lines > 0) ? 1 : 0;
                per_bank = (half_lines + banks / 2 - 1) / (banks / 2);
                b = half * (banks / 2) + (line - half * half_lines) / per_bank;
                bank_of = (b < banks - 1) ? b : banks - 1;
            end
        end
    endfunction

    // ------------------------------------------------------------------ control registers
    reg [1:0]  phase;
    reg [31:0] cmd_base, cmd_count, err_index, fetch_cycles;
    reg        st_busy, st_done, st_err;
    reg [7:0]  err_code;
    reg [63:0] cnt [0:NCNT-1];

    // Counter increments of this cycle (combinational), added at the clock edge.
    reg [63:0] inc [0:NCNT-1];

    wire [7:0] cnt_off = mmio_addr - 8'h40;
    wire [4:0] cnt_sel = cnt_off[7:3];
    always @(*) begin
        mmio_rdata = 32'd0;
        case (mmio_addr)
            8'h00: mmio_rdata = ID_VALUE;
            8'h08: mmio_rdata = {16'd0, err_code, 5'd0, st_err, st_done, st_busy};
            8'h0C: mmio_rdata = cmd_base;
            8'h10: mmio_rdata = cmd_count;
            8'h14: mmio_rdata = err_index;
            8'h18: mmio_rdata = fetch_cycles;
            default: begin
                if (mmio_addr >= 8'h40 && mmio_addr < 8'h40 + 8 * NCNT && mmio_addr[1:0] == 2'b00)
                    mmio_rdata = mmio_addr[2] ? cnt[cnt_sel][63:32] : cnt[cnt_sel][31:0];
            end
        endcase
    end
    wire start_req = mmio_we && mmio_addr == 8'h04 && mmio_wdata[0] && !st_busy;
    wire clear_req = mmio_we && mmio_addr == 8'h04 && mmio_wdata[1];

    // ------------------------------------------------------------------ queues, tokens
    reg [QW-1:0] lqn, cqn, sqn, lh, ch, sh;
    reg [31:0] tok [0:3];
    reg        owner_store;

    wire [127:0] lhead = lq[lh[QI-1:0]];
    wire [127:0] chead = cq[ch[QI-1:0]];
    wire [127:0] shead = sq[sh[QI-1:0]];
    wire l_has = lh != lqn;
    wire c_has = ch != cqn;
    wire s_has = sh != sqn;
    // Occupancy (pointers run modulo 2**QW; a queue holds at most QDEPTH = 2**QI).
    wire [QW-1:0] l_occ = lqn - lh;
    wire [QW-1:0] c_occ = cqn - ch;
    wire [QW-1:0] s_occ = sqn - sh;
    wire l_full = {{(32-QW){1'b0}}, l_occ} == QDEPTH;
    wire c_full = {{(32-QW){1'b0}}, c_occ} == QDEPTH;
    wire s_full = {{(32-QW){1'b0}}, s_occ} == QDEPTH;
    // Load: pop_next pops C2L. Compute: pop_prev L2C, pop_next S2C. Store queue: pop_prev C2S.
    wire l_ready = l_has && (!lhead[5] || tok[C2L] != 0);
    wire c_ready = c_has && (!chead[4] || tok[L2C] != 0) && (!chead[5] || tok[S2C] != 0);
    wire s_ready = s_has && (!shead[4] || tok[C2S] != 0);

    // ------------------------------------------------------------------ fetch
    reg [31:0]  f_off, f_idx, f_lat;
    reg         f_reqp;
    reg [127:0] f_asm;
    reg [127:0] f_cmd;
    reg         f_beat, f_complete;
    // Streaming fetch (CMDQ > 0): next command to request, the bursts in flight (ready
    // cycle, bytes; a 2-entry FIFO), bytes of the oldest taken, FINISH received.
    reg [31:0]  fs_next, fs_bdone;
    reg [31:0]  fs_rdy [0:FOUT-1];
    reg [31:0]  fs_len [0:FOUT-1];
    reg         fs_head, fs_stop;
    reg [1:0]   fs_n;
    wire        fs_run = CMDQ != 0 && (phase == PH_EXEC || phase == PH_DRAIN);
    wire [31:0] fs_left = cmd_count - fs_next;
    wire [31:0] fs_cmds = (fs_left < FBURST) ? fs_left : FBURST;
    wire [31:0] fs_bytes = 16 * fs_cmds;
    wire        fs_req = fs_run && !fs_stop && fs_next < cmd_count && fs_n < FOUT;
    wire [31:0] fs_req_ready = tnow + LAT;
    wire        fs_hv = fs_n != 2'd0 || fs_req;
    wire [31:0] fs_hready = (fs_n != 2'd0) ? fs_rdy[fs_head] : fs_req_ready;
    wire [31:0] fs_hlen = (fs_n != 2'd0) ? fs_len[fs_head] : fs_bytes;
    wire [31:0] fs_wait = tnow - fs_hready;
    wire        fs_at = fs_run && fs_hv && !fs_wait[31];
    wire [8*FB-1:0] f_data = (CMDQ != 0) ? cmd_rdata : bus_rdata[8*FB-1:0];
    integer fk;
    always @(*) begin
        // Byte p of the command comes from this beat when the beat covers it.
        for (fk = 0; fk < 16; fk = fk + 1)
            f_cmd[8*fk +: 8] = (fk >= f_off % 16 && fk < f_off % 16 + FB)
                ? f_data[8*((fk - f_off % 16) % FB) +: 8] : f_asm[8*fk +: 8];
    end
    wire [3:0] fop = f_cmd[3:0];
    // Load-queue opcodes: LOAD; CONV_GEOM and LOAD_IM2COL only with the im2col unit.
    wire f_ldq = fop == 4'd1 || (IM2COL != 0 && (fop == 4'd5 || fop == 4'd6));
    // Compute-queue opcodes: COMPUTE; VSET and VCOMPUTE only with the vector unit.
    wire f_cq = fop == 4'd3 || (VPU != 0 && (fop == 4'd7 || fop == 4'd8));
    wire f_sq = fop == 4'd2 || fop == 4'd4;
    wire f_ends = (f_off + FB) % 16 == 0;    // this beat completes a command
    // Head-of-line back-pressure: the beat completing a command waits for room in its queue.
    wire fs_block = fs_at && !fs_stop && f_ends
                    && ((f_ldq && l_full) || (f_cq && c_full) || (f_sq && s_full));
    wire fs_beat = fs_at && !fs_block;
    wire fs_bend = fs_beat && fs_bdone + FB == fs_hlen;
    wire fs_done = fs_n == 2'd0 && (fs_stop || fs_next >= cmd_count);
    always @(*) begin
        f_beat = (CMDQ != 0) ? fs_beat : (phase == PH_FETCH && f_lat == 0);
        f_complete = f_beat && f_ends;
    end

    // ------------------------------------------------------------------ compute engine
    reg        c_busy;
    reg [31:0] c_tau, c_outcnt, c_written;
    reg [8*ROWS-1:0] isp_q;                  // registered scratchpad reads (below)
    reg [8*COLS-1:0] wsp_q;
    reg [127:0] c_cmdr;
    wire        c_start = phase == PH_EXEC && !c_busy && c_ready;
    wire        c_stall = phase == PH_EXEC && !c_busy && c_has && !c_ready;
    wire        ca = c_busy || c_start;
    wire [127:0] cc = c_start ? chead : c_cmdr;
    wire [31:0] tau = c_start ? 32'd0 : c_tau;
    wire        c_accum = cc[8];
    wire [31:0] c_aline = {8'd0, cc[39:16]};
    wire [31:0] c_bline = {8'd0, cc[63:40]};
    wire [31:0] c_cline = {8'd0, cc[87:64]};
    wire [31:0] c_m = {16'd0, cc[103:88]};
    wire [31:0] c_k = {16'd0, cc[119:104]};
    wire [31:0] c_n = {24'd0, cc[127:120]} + 32'd1;
    // The command's kind: COMPUTE (the array), VSET, VCOMPUTE (the vector unit).
    wire        c_arr = cc[3:0] == 4'd3;
    wire        c_vset = cc[3:0] == 4'd7;
    wire        c_vcomp = cc[3:0] == 4'd8;

    // The vector unit: its read requests (in the cycle they are made), its results (in
    // the cycle they leave it) and its mode (for MAX's accumulate and the counters).
    wire        v_in_rd, v_w_rd, v_out_valid;
    wire [31:0] v_in_line, v_w_line;
    wire [32*ROWS-1:0] v_out_vec;
    wire [1:0]  v_mode;
    generate
        if (VPU != 0) begin : g_vpu
            tinyaccel_vpu #(
                .LANES(ROWS), .DEPTHWISE(DEPTHWISE), .POOLING(POOLING), .ELTWISE(ELTWISE)
            ) u_vpu (
                .clk(clk), .rst(rst), .clear(start_req),
                .vset(c_start && c_vset), .set_cmd(cc),
                .start(c_start && c_vcomp),
                .c_aline(cc[39:16]), .c_bline(cc[63:40]), .c_m(cc[103:88]), .c_k(cc[119:104]),
                .in_rd(v_in_rd), .in_line(v_in_line), .w_rd(v_w_rd), .w_line(v_w_line),
                .a_vec(isp_q), .b_vec(wsp_q[8*ROWS-1:0]),
                .out_valid(v_out_valid), .out_vec(v_out_vec), .mode_out(v_mode)
            );
        end else begin : g_no_vpu
            assign v_in_rd = 1'b0;
            assign v_w_rd = 1'b0;
            assign v_in_line = 32'd0;
            assign v_w_line = 32'd0;
            assign v_out_valid = 1'b0;
            assign v_out_vec = {32*ROWS{1'b0}};
            assign v_mode = 2'd0;
        end
    endgenerate

    // Input-stationary stream (docs/architecture.md 3.3): block period P, NB output blocks
    // of COLS lanes, S slots; slot s = nb*P + l reads weight line b_line + nb*COLS + l
    // when l < COLS and that column is < n.
    localparam P = (ROWS > COLS) ? ROWS : COLS;
    wire [31:0] is_nblk = (c_n + COLS - 1) / COLS;
    wire [31:0] is_slots = (is_nblk - 1) * P + COLS;
    wire [31:0] is_s = tau - COLS;
    wire [31:0] is_l = is_s % P;
    wire [31:0] is_c = (is_s / P) * COLS + is_l;
    // feed: the core's in_valid of the next cycle (OS, WS: the input read; IS: a slot).
    reg        in_rd, w_rd, w_slot, feed, feed_last;
    reg [31:0] in_line, w_line;
    always @(*) begin
        in_rd = 1'b0; w_rd = 1'b0; w_slot = 1'b0; feed = 1'b0; feed_last = 1'b0;
        in_line = 32'd0; w_line = 32'd0;
        if (ca && c_vcomp) begin
            in_rd = v_in_rd; in_line = v_in_line;
            w_rd = v_w_rd; w_line = v_w_line;
        end
        if (ca && c_arr) begin
            if (IS != 0) begin
                if (tau < COLS) begin
                    w_slot = 1'b1;
                    in_line = c_aline + (COLS - 1 - tau);
                    in_rd = (COLS - 1 - tau) < c_k;
                end else if (tau < COLS + is_slots) begin
                    feed = 1'b1;
                    w_line = c_bline + is_c;
                    w_rd = is_l < COLS && is_c < c_n;
                    feed_last = tau == COLS + is_slots - 1;
                end
            end else if (OS != 0) begin
                if (tau < c_k) begin
                    in_rd = 1'b1; w_rd = 1'b1;
                    in_line = c_aline + tau;
                    w_line = c_bline + tau;
                    feed = 1'b1;
                    feed_last = tau == c_k - 1;
                end
            end else begin
                if (tau < ROWS) begin
                    w_slot = 1'b1;
                    w_line = c_bline + (ROWS - 1 - tau);
                    w_rd = (ROWS - 1 - tau) < c_k;
                end else if (tau < ROWS + c_m) begin
                    in_rd = 1'b1;
                    in_line = c_aline + (tau - ROWS);
                    feed = 1'b1;
                    feed_last = tau == ROWS + c_m - 1;
                end
            end
        end
    end
    wire [31:0] core_in_bank = bank_of(IN_LINES, IN_BANKS, in_line);
    wire [31:0] core_w_bank = bank_of(W_LINES, W_BANKS, w_line);

    // Registered scratchpad reads (EDGE_LATENCY = 1) and the feed controls of the next cycle.
    reg r_in_valid, r_in_last, r_w_load, r_w_rd, r_in_rd;
    integer q;
    always @(posedge clk) begin
        for (q = 0; q < ROWS; q = q + 1)
            if (in_rd) isp_q[8*q +: 8] <= isp[in_line * ROWS + q];
        for (q = 0; q < COLS; q = q + 1)
            if (w_rd) wsp_q[8*q +: 8] <= wsp[w_line * COLS + q];
        if (rst) begin
            r_in_valid <= 1'b0; r_in_last <= 1'b0; r_w_load <= 1'b0; r_w_rd <= 1'b0;
            r_in_rd <= 1'b0;
        end else begin
            r_in_valid <= feed;
            r_in_last <= feed && feed_last;
            r_w_load <= w_slot;
            r_w_rd <= w_rd;
            r_in_rd <= in_rd;
        end
    end

    // The compute core (rust-hdl) and its PPU.
    wire core_out_valid, core_out_last;
    wire [32*COLS-1:0] core_out_acc;
    reg  ppu_valid_in;
    reg  [32*COLS-1:0] ppu_acc, ppu_bias, ppu_mult;
    reg  [8*COLS-1:0] ppu_shift, ppu_shift_r;
    reg  [7:0] r_zp, r_min, r_max;
    wire ppu_valid_out;
    wire [8*COLS-1:0] ppu_q;
    tinyaccel_core u_core (
        .clk(clk), .rst(rst),
        .in_valid(r_in_valid), .in_last(r_in_last), .w_load(r_w_load),
        .a_vec((IS == 0 || r_in_rd) ? isp_q : {8*ROWS{1'b0}}),
        .b_vec((OS != 0 || r_w_rd) ? wsp_q : {8*COLS{1'b0}}),
        .out_valid(core_out_valid), .out_last(core_out_last), .out_acc(core_out_acc),
        .ppu_valid_in(ppu_valid_in), .ppu_acc(ppu_acc), .ppu_bias(ppu_bias),
        .ppu_mult(ppu_mult), .ppu_shift(ppu_shift), .ppu_shift_r(ppu_shift_r),
        .ppu_zp({{24{r_zp[7]}}, r_zp}), .ppu_act_min(r_min), .ppu_act_max(r_max),
        .ppu_valid_out(ppu_valid_out), .ppu_q(ppu_q)
    );

    // Write-back: the row leaving the core in cycle d is read (ACCUMULATE) in d+1 and
    // written at the end of d+2 (ACC_PIPE_DEPTH = 2). Input-stationary: the core's lines
    // come block by block, every array row of each block; line (blk, row) goes to
    // c_line + blk*m + row, rows >= m are not written.
    reg [31:0] out_row, out_off, out_col0;
    reg        out_wr;
    reg [32*COLS-1:0] out_masked;
    // The unit's ROWS lanes widened to the COLS lanes of an accumulator line (ROWS <= COLS
    // when the unit exists; configurations without it may have ROWS > COLS).
    wire [32*COLS-1:0] v_out_pad;
    genvar gv;
    generate
        for (gv = 0; gv < COLS; gv = gv + 1) begin : g_vpad
            if (gv < ROWS) begin : g_lane
                assign v_out_pad[32*gv +: 32] = v_out_vec[32*gv +: 32];
            end else begin : g_zero
                assign v_out_pad[32*gv +: 32] = 32'd0;
            end
        end
    endgenerate
    integer oj;
    always @(*) begin
        if (c_vcomp) begin
            // Vector unit: position p (the p-th result) goes to c_line + p.
            out_row = c_outcnt;
            out_off = c_outcnt;
            out_col0 = 32'd0;
        end else if (IS != 0) begin
            out_row = c_outcnt % ROWS;
            out_off = (c_outcnt / ROWS) * c_m + out_row;
            out_col0 = (c_outcnt / ROWS) * COLS;
        end else begin
            out_row = (OS != 0) ? (ROWS - 1 - c_outcnt) : c_outcnt;
            out_off = out_row;
            out_col0 = 32'd0;
        end
        out_wr = c_vcomp ? v_out_valid : (core_out_valid && out_row < c_m);
        for (oj = 0; oj < COLS; oj = oj + 1)
            out_masked[32*oj +: 32] = (out_col0 + oj >= c_n) ? 32'd0
                : (c_vcomp ? v_out_pad[32*oj +: 32] : core_out_acc[32*oj +: 32]);
    end
    reg        wb1_v, wb2_v, wb1_end, wb2_end;
    reg [31:0] wb1_line, wb2_line;
    reg [32*COLS-1:0] wb1_data, wb2_data, acc_old;
    wire       wb_rd = wb1_v && c_accum;
    // IS: done with the write-back slot of the last array row's line (rows >= m included).
    // VSET: done in its first (only) cycle.
    wire       c_done = (ca && c_vset) ||
                        (c_busy && ((IS != 0 && c_arr) ? wb2_end : (wb2_v && (c_written + 1 == c_m))));
    reg [32*COLS-1:0] wb_value;
    integer wj;
    always @(*) begin
        for (wj = 0; wj < COLS; wj = wj + 1)
            // VCOMPUTE: lanes >= n are written with 0, also with ACCUMULATE (3.5).
            wb_value[32*wj +: 32] = (!c_accum || (c_vcomp && wj >= c_n)) ? wb2_data[32*wj +: 32]
                : (c_vcomp && v_mode == V_MAX)
                    ? (($signed(acc_old[32*wj +: 32]) > $signed(wb2_data[32*wj +: 32]))
                       ? acc_old[32*wj +: 32] : wb2_data[32*wj +: 32])
                    : acc_old[32*wj +: 32] + wb2_data[32*wj +: 32];
    end

    // ------------------------------------------------------------------ DMA engine
    reg        d_busy;
    reg [2:0]  d_kindr;
    reg [127:0] d_cmdr;
    reg [31:0] d_idxr, d_pipe, d_irow, d_iaddr, d_boff, d_brow, d_bcol, d_rowseq;
    reg        d_ileft;
    reg [31:0] tnow;                         // free-running cycle count (piece time stamps)
    wire pick_load = phase == PH_EXEC && !d_busy && (owner_store ? (!s_ready && l_ready) : l_ready);
    wire pick_store = phase == PH_EXEC && !d_busy && (owner_store ? s_ready : (!l_ready && s_ready));
    wire d_pick = pick_load || pick_store;
    wire da = d_busy || d_pick;
    wire [127:0] dc = pick_load ? lhead : (pick_store ? shead : d_cmdr);
    wire [2:0] d_kind = pick_load ? (lhead[3:0] == 4'd5 ? K_GEOM : (lhead[3:0] == 4'd6 ? K_IM2COL : K_LOAD))
                      : (pick_store ? (shead[3:0] == 4'd2 ? K_PARAMS : K_STORE) : d_kindr);
    wire        k_im2col = d_kind == K_IM2COL;
    wire        k_ldq = d_kind == K_LOAD || d_kind == K_IM2COL || d_kind == K_GEOM;
    // Fields.
    wire        ld_weight = d_kind == K_LOAD && dc[8];
    wire        ld_tr = dc[10];
    wire [31:0] ld_line = {8'd0, dc[39:16]};
    wire [31:0] x_addr = (d_kind == K_PARAMS) ? dc[47:16] : dc[71:40];
    wire [31:0] x_stride = {8'd0, dc[95:72]};
    wire [31:0] x_nrows = (d_kind == K_PARAMS) ? 32'd1 : (k_im2col ? {16'd0, dc[103:88]} : {16'd0, dc[111:96]});
    wire [31:0] x_ncols = k_im2col ? {16'd0, dc[119:104]} : {16'd0, dc[127:112]};
    wire [31:0] p_count = {16'd0, dc[63:48]};
    wire        st_raw = dc[8];
    wire [31:0] st_line = {8'd0, dc[39:16]};
    wire [31:0] st_e = st_raw ? 32'd4 : 32'd1;
    wire [31:0] st_nblocks = (x_ncols + COLS - 1) / COLS;
    wire [31:0] row_bytes = (d_kind == K_PARAMS) ? 12 * p_count
                          : (d_kind == K_STORE) ? x_ncols * st_e : x_ncols;

    // Window registers (CONV_GEOM), reset at every start.
    reg [31:0] g_addr;
    reg [11:0] g_in_h, g_in_w, g_out_w;
    reg [15:0] g_in_c;
    reg [3:0]  g_kw1, g_sh1, g_sw1, g_dh1, g_dw1, g_pad_t, g_pad_l;

    // Request side: one piece per cycle while fewer than OUTSTANDING are in flight.
    wire [31:0] pipe = d_pick ? ((d_kind == K_STORE) ? 32'd4 : 32'd0) : d_pipe;
    wire [31:0] irow = d_pick ? 32'd0 : d_irow;
    wire [31:0] iaddr = d_pick ? x_addr : d_iaddr;
    wire        agu_valid, agu_pad, agu_last;
    wire [31:0] agu_addr;
    wire [15:0] agu_len;
    wire [4:0]  f_count;
    wire        ileft = k_im2col ? agu_valid : (d_kind == K_GEOM ? 1'b0 : (d_pick ? 1'b1 : d_ileft));
    wire        iss = da && pipe == 0 && ileft && {27'd0, f_count} < OUTSTANDING;
    wire [31:0] i_addr = k_im2col ? agu_addr : iaddr;
    wire [31:0] i_len = k_im2col ? {16'd0, agu_len} : row_bytes;
    wire        i_pad = k_im2col && agu_pad;
    wire        i_last = k_im2col ? agu_last : (irow + 1 == x_nrows);
    wire [31:0] i_ready = tnow + (i_pad ? 32'd0 : LAT);
    generate
        if (IM2COL != 0) begin : g_agu
            tinyaccel_im2col_agu u_agu (
                .clk(clk), .rst(rst),
                .g_addr(g_addr), .g_in_h(g_in_h), .g_in_w(g_in_w), .g_in_c(g_in_c),
                .g_out_w(g_out_w), .g_kw1(g_kw1), .g_sh1(g_sh1), .g_sw1(g_sw1),
                .g_dh1(g_dh1), .g_dw1(g_dw1), .g_pad_t(g_pad_t), .g_pad_l(g_pad_l),
                .start(d_pick && k_im2col),
                .c_oy0(dc[51:40]), .c_ox0(dc[63:52]), .c_ky0(dc[67:64]), .c_kx0(dc[71:68]),
                .c_ic0(dc[87:72]), .c_nrows(dc[103:88]), .c_ncols(dc[119:104]),
                .adv(iss && k_im2col),
                .valid(agu_valid), .p_addr(agu_addr), .p_len(agu_len), .p_pad(agu_pad),
                .p_last(agu_last)
            );
        end else begin : g_no_agu
            assign agu_valid = 1'b0;
            assign agu_addr = 32'd0;
            assign agu_len = 16'd0;
            assign agu_pad = 1'b0;
            assign agu_last = 1'b0;
        end
    endgenerate

    // Tracking FIFO: {ready cycle, last, pad, len[23:0], addr}; the beat side serves its
    // head, or the piece issued this cycle when nothing is in flight (a beat may come in
    // its request cycle: LAT = 0 or a pad piece).
    wire [TW-1:0] i_ent = {i_ready, i_last, i_pad, i_len[23:0], i_addr};
    wire [TW-1:0] f_head;
    wire          hv = f_count != 5'd0 || iss;
    wire [TW-1:0] hent = (f_count != 5'd0) ? f_head : i_ent;
    wire [31:0]   h_addr = hent[31:0];
    wire [31:0]   h_len = {8'd0, hent[55:32]};
    wire          h_pad = hent[56];
    wire          h_last = hent[57];
    wire [31:0]   h_ready = hent[89:58];
    wire [31:0]   h_wait = tnow - h_ready;
    wire [31:0] off = d_pick ? 32'd0 : d_boff;
    wire [31:0] brow = d_pick ? 32'd0 : d_brow;
    wire [31:0] bcol = d_pick ? 32'd0 : d_bcol;
    wire [31:0] rowseq = d_pick ? 32'd0 : d_rowseq;
    wire        in_beat_phase = da && hv && !h_wait[31];
    wire [31:0] left_bytes = h_len - off;
    wire [31:0] nb = (left_bytes < BUS) ? left_bytes : BUS;
    wire [31:0] ld_w = ld_weight ? COLS : ROWS;
    // LOAD, LOAD_IM2COL: line and lane of each byte of the beat (byte 0 decides the
    // bank); element (brow, bcol + off + k) of the tile.
    reg [31:0] ld_l [0:BUS-1];
    reg [31:0] ld_n [0:BUS-1];
    reg [31:0] ecol;
    integer lb;
    always @(*) begin
        for (lb = 0; lb < BUS; lb = lb + 1) begin
            ecol = bcol + off + lb;
            ld_l[lb] = ld_tr ? ld_line + (brow / ld_w) * x_ncols + ecol
                             : ld_line + (ecol / ld_w) * x_nrows + brow;
            ld_n[lb] = ld_tr ? brow % ld_w : ecol % ld_w;
        end
    end
    wire [31:0] first_line = ld_l[0];
    wire k_ld = d_kind == K_LOAD || k_im2col;
    wire conflict = in_beat_phase && k_ld &&
        (ld_weight ? (w_rd && core_w_bank == bank_of(W_LINES, W_BANKS, first_line))
                   : (in_rd && core_in_bank == bank_of(IN_LINES, IN_BANKS, first_line)));
    wire beat = in_beat_phase && !conflict;
    wire piece_end = beat && off + nb == h_len;
    wire d_finish = (da && d_kind == K_GEOM) || (piece_end && h_last);
    wire f_pop = piece_end && f_count != 5'd0;
    wire f_push = iss && !(f_count == 5'd0 && piece_end);
    tinyaccel_dma_track #(.N(OUTSTANDING), .W(TW)) u_track (
        .clk(clk), .rst(rst || start_req), .push(f_push), .din(i_ent), .pop(f_pop),
        .dout(f_head), .count(f_count)
    );
    wire [7:0] pad_value = dc[127:120];

    // STORE: the reader streams the accumulator lines (row-major over (row, block)) into
    // the PPU, at most SDEPTH-2 lines ahead of the line the current beat needs.
    reg [31:0] s_seq, s_r, s_blk;
    wire [31:0] rd_seq = d_pick ? 32'd0 : s_seq;
    wire [31:0] rd_r = d_pick ? 32'd0 : s_r;
    wire [31:0] rd_blk = d_pick ? 32'd0 : s_blk;
    wire [31:0] need_seq = rowseq + (off / st_e) / COLS;
    wire st_issue = da && d_kind == K_STORE && rd_seq < x_nrows * st_nblocks
                    && rd_seq < need_seq + SDEPTH - 2;
    wire [31:0] st_rd_line = st_line + rd_blk * x_nrows + rd_r;
    reg        p0_v, p1_v, p2_v, p3_v;
    reg [31:0] p0_seq, p1_seq, p2_seq, p3_seq, p0_blk, p1_blk, p2_blk;
    reg [32*COLS-1:0] acc_b, raw1, raw2, raw3;
    reg        st_raw_r;
    // PPU parameters of each stage's row (bias/shift at stage 1, mult at 2, shift at 3).
    integer pj;
    reg [31:0] col1, col2, col3;
    always @(*) begin
        ppu_valid_in = p0_v;
        ppu_acc = acc_b;
        for (pj = 0; pj < COLS; pj = pj + 1) begin
            col1 = 12 * (p0_blk * COLS + pj);
            col2 = 12 * (p1_blk * COLS + pj);
            col3 = 12 * (p2_blk * COLS + pj);
            ppu_bias[32*pj +: 32] = {prm[col1 + 3], prm[col1 + 2], prm[col1 + 1], prm[col1]};
            ppu_shift[8*pj +: 8] = prm[col1 + 8];
            ppu_mult[32*pj +: 32] = {prm[col2 + 7], prm[col2 + 6], prm[col2 + 5], prm[col2 + 4]};
            ppu_shift_r[8*pj +: 8] = prm[col3 + 8];
        end
    end
    wire [32*COLS-1:0] incoming = st_raw_r ? raw3 : {{24*COLS{1'b0}}, ppu_q};

    // Beat data.
    integer bk;
    reg [31:0] bb, be, bblk, blane, bseq;
    reg [32*COLS-1:0] bent;
    reg [8*BUS-1:0] st_wdata;
    reg [BUS-1:0] strb;
    reg [31:0] lines_started;
    always @(*) begin
        st_wdata = {8*BUS{1'b0}};
        strb = {BUS{1'b0}};
        lines_started = 32'd0;
        for (bk = 0; bk < BUS; bk = bk + 1) begin
            bb = off + bk;
            strb[bk] = bk < nb;
            be = bb / st_e;
            bblk = be / COLS;
            blane = be % COLS;
            bseq = rowseq + bblk;
            bent = (p3_v && p3_seq == bseq) ? incoming : sbuf[bseq % SDEPTH];
            st_wdata[8*bk +: 8] = st_raw ? bent[32*blane + 8*(bb % 4) +: 8] : bent[8*blane +: 8];
            if (bk < nb && ld_n[bk] == 0) lines_started = lines_started + 1;
        end
    end

    integer fk2;
    always @(*) begin
        fk2 = 0;
        bus_req = 1'b0; bus_we = 1'b0; bus_req_addr = 32'd0; bus_req_len = 24'd0;
        bus_beat = 1'b0; bus_addr = 32'd0; bus_strb = {BUS{1'b0}}; bus_wdata = {8*BUS{1'b0}};
        cmd_req = fs_req;
        cmd_req_addr = cmd_base + 16 * fs_next;
        cmd_req_len = fs_bytes[23:0];
        cmd_beat = fs_beat;
        cmd_addr = cmd_base + f_off;
        if (phase == PH_FETCH) begin
            bus_req = f_reqp;
            bus_req_addr = cmd_base;
            bus_req_len = {cmd_count[19:0], 4'd0};
            bus_beat = f_beat;
            bus_addr = cmd_base + f_off;
            for (fk2 = 0; fk2 < BUS; fk2 = fk2 + 1) bus_strb[fk2] = fk2 < FB;
        end else if (phase == PH_EXEC && da) begin
            bus_req = iss && !i_pad;
            bus_we = d_kind == K_STORE;
            bus_req_addr = i_addr;
            bus_req_len = i_len[23:0];
            bus_beat = beat && !h_pad;
            bus_addr = h_addr + off;
            bus_strb = strb;
            bus_wdata = st_wdata;
        end
    end

    // ------------------------------------------------------------------ counters of the cycle
    // CMDQ > 0: also a fetch that cannot deliver (done, or blocked by a full queue).
    wire exec_idle = phase == PH_EXEC && !ca && !da && (CMDQ == 0 || fs_done || fs_block);
    wire all_done = lh == lqn && ch == cqn && sh == sqn;
    integer ci;
    always @(*) begin
        for (ci = 0; ci < NCNT; ci = ci + 1) inc[ci] = 64'd0;
        if (phase == PH_EXEC && !exec_idle) begin
            inc[0] = 1;                                         // cycles
            inc[1] = (ca && c_arr) ? 1 : 0;                     // array_busy_cycles
            inc[2] = c_stall ? 1 : 0;                           // dma_stall_cycles
            inc[3] = da ? 1 : 0;                                // dma_busy_cycles
            inc[4] = (c_done && (c_arr || (c_vcomp && v_mode == V_MAC)))
                     ? c_m * c_n * c_k : 0;                     // macs
            inc[5] = (beat && !h_pad && d_kind != K_STORE) ? {32'd0, nb} : 64'd0;  // bus_read_bytes
            inc[6] = (beat && d_kind == K_STORE) ? {32'd0, nb} : 64'd0;  // bus_write_bytes
            inc[7] = in_rd ? ROWS : 0;                          // input_sp_read_bytes
            inc[8] = (beat && k_ld && !ld_weight) ? lines_started * ROWS : 0;
            inc[9] = w_rd ? COLS : 0;                           // weight_sp_read_bytes
            inc[10] = (beat && d_kind == K_LOAD && ld_weight) ? lines_started * COLS : 0;
            inc[11] = ((wb_rd ? 1 : 0) + (st_issue ? 1 : 0)) * 4 * COLS;
            inc[12] = wb2_v ? 4 * COLS : 0;                     // acc_sp_write_bytes
            inc[13] = conflict ? 1 : 0;                         // bank_conflict_cycles
            inc[15] = (iss && !i_pad) ? 1 : 0;                  // dma_bursts
            inc[16] = (iss && k_im2col) ? 1 : 0;                // im2col_pieces
            inc[17] = (ca && c_vcomp) ? 1 : 0;                  // vpu_busy_cycles
            inc[18] = (c_done && c_vcomp && (v_mode == V_SUM || v_mode == V_MAX))
                      ? c_m * c_n * c_k : 0;                    // vpu_reduce_ops
            inc[19] = (c_done && c_vcomp && v_mode == V_ADD)
                      ? c_m * c_n * c_k : 0;                    // vpu_add_ops
        end
    end

    // ------------------------------------------------------------------ sequential
    integer s, lk, q2;
    always @(posedge clk) begin
        if (rst) begin
            phase <= PH_IDLE;
            cmd_base <= 32'd0; cmd_count <= 32'd0; err_index <= 32'd0; fetch_cycles <= 32'd0;
            st_busy <= 1'b0; st_done <= 1'b0; st_err <= 1'b0; err_code <= 8'd0;
            for (s = 0; s < NCNT; s = s + 1) cnt[s] <= 64'd0;
            c_busy <= 1'b0; d_busy <= 1'b0;
            wb1_v <= 1'b0; wb2_v <= 1'b0; wb1_end <= 1'b0; wb2_end <= 1'b0;
            p0_v <= 1'b0; p1_v <= 1'b0; p2_v <= 1'b0; p3_v <= 1'b0;
            r_zp <= 8'd0; r_min <= 8'h80; r_max <= 8'h7F;
            lqn <= 0; cqn <= 0; sqn <= 0; lh <= 0; ch <= 0; sh <= 0;
            for (s = 0; s < 4; s = s + 1) tok[s] <= 32'd0;
            owner_store <= 1'b0;
            tnow <= 32'd0;
            fs_next <= 32'd0; fs_bdone <= 32'd0; fs_head <= 1'b0; fs_n <= 2'd0; fs_stop <= 1'b0;
            g_addr <= 32'd0; g_in_h <= 12'd0; g_in_w <= 12'd0; g_in_c <= 16'd0; g_out_w <= 12'd0;
            g_kw1 <= 4'd0; g_sh1 <= 4'd0; g_sw1 <= 4'd0; g_dh1 <= 4'd0; g_dw1 <= 4'd0;
            g_pad_t <= 4'd0; g_pad_l <= 4'd0;
        end else begin
            tnow <= tnow + 32'd1;
            // ---- MMIO writes
            if (mmio_we && mmio_addr == 8'h0C) cmd_base <= mmio_wdata;
            if (mmio_we && mmio_addr == 8'h10) cmd_count <= mmio_wdata;
            for (s = 0; s < NCNT; s = s + 1)
                cnt[s] <= clear_req ? 64'd0 : cnt[s] + inc[s];
            if (start_req) begin
                st_busy <= 1'b1; st_done <= 1'b0; st_err <= 1'b0; err_code <= 8'd0;
                err_index <= 32'd0; fetch_cycles <= 32'd0;
                lqn <= 0; cqn <= 0; sqn <= 0; lh <= 0; ch <= 0; sh <= 0;
                for (s = 0; s < 4; s = s + 1) tok[s] <= 32'd0;
                owner_store <= 1'b0;
                g_addr <= 32'd0; g_in_h <= 12'd0; g_in_w <= 12'd0; g_in_c <= 16'd0; g_out_w <= 12'd0;
                g_kw1 <= 4'd0; g_sh1 <= 4'd0; g_sw1 <= 4'd0; g_dh1 <= 4'd0; g_dw1 <= 4'd0;
                g_pad_t <= 4'd0; g_pad_l <= 4'd0;
                f_off <= 32'd0; f_idx <= 32'd0; f_lat <= LAT; f_reqp <= 1'b1;
                fs_next <= 32'd0; fs_bdone <= 32'd0; fs_head <= 1'b0; fs_n <= 2'd0;
                fs_stop <= 1'b0;
                if (cmd_count == 0) begin
                    st_busy <= 1'b0; st_done <= 1'b1; st_err <= 1'b1; err_code <= 8'd3;
                end else phase <= (CMDQ != 0) ? PH_EXEC : PH_FETCH;
            end

            // ---- streaming fetch (CMDQ > 0), overlapped with execution
            if (fs_run) begin
                if (!fs_done) fetch_cycles <= fetch_cycles + 1;
                if (fs_req) fs_next <= fs_next + fs_cmds;
                // The FIFO of bursts in flight (a burst whose only beat comes in its
                // request cycle never enters it).
                if (fs_req && !(fs_n == 2'd0 && fs_bend)) begin
                    fs_rdy[fs_head + fs_n[0]] <= fs_req_ready;
                    fs_len[fs_head + fs_n[0]] <= fs_bytes;
                end
                fs_n <= fs_n + ((fs_req && !(fs_n == 2'd0 && fs_bend)) ? 2'd1 : 2'd0)
                             - ((fs_bend && fs_n != 2'd0) ? 2'd1 : 2'd0);
                if (fs_bend && fs_n != 2'd0) fs_head <= !fs_head;
                if (fs_beat) begin
                    fs_bdone <= fs_bend ? 32'd0 : fs_bdone + FB;
                    f_off <= f_off + FB;
                    f_asm <= f_cmd;
                end
                if (f_complete && !fs_stop && phase == PH_EXEC) begin
                    f_idx <= f_idx + 1;
                    if (f_ldq) begin
                        lq[lqn[QI-1:0]] <= f_cmd; lqi[lqn[QI-1:0]] <= f_idx; lqn <= lqn + 1;
                    end else if (f_cq) begin
                        cq[cqn[QI-1:0]] <= f_cmd; cqi[cqn[QI-1:0]] <= f_idx; cqn <= cqn + 1;
                    end else if (f_sq) begin
                        sq[sqn[QI-1:0]] <= f_cmd; sqi[sqn[QI-1:0]] <= f_idx; sqn <= sqn + 1;
                    end
                    if (!f_ldq && !f_cq && !f_sq && fop != 4'd15) begin
                        // Unknown opcode: the engines stop, the bursts in flight drain.
                        phase <= PH_DRAIN; fs_stop <= 1'b1; st_err <= 1'b1;
                        err_code <= 8'd1; err_index <= f_idx;
                    end else if (fop == 4'd15) begin
                        fs_stop <= 1'b1;
                        cnt[14] <= cnt[14] + {32'd0, f_idx} + 64'd1;             // commands
                    end else if (f_idx + 1 == cmd_count) begin
                        phase <= PH_IDLE; st_busy <= 1'b0; st_done <= 1'b1; st_err <= 1'b1;
                        err_code <= 8'd3; err_index <= f_idx;
                    end
                end
                if (phase == PH_DRAIN && (fs_n == 2'd0 || (fs_n == 2'd1 && fs_bend))) begin
                    phase <= PH_IDLE; st_busy <= 1'b0; st_done <= 1'b1;
                end
            end

            // ---- fetch
            if (phase == PH_FETCH) begin
                fetch_cycles <= fetch_cycles + 1;
                f_reqp <= 1'b0;
                if (f_lat != 0) f_lat <= f_lat - 1;
                else begin
                    f_off <= f_off + FB;
                    f_asm <= f_cmd;
                    if (f_complete) begin
                        f_idx <= f_idx + 1;
                        if (f_ldq) begin
                            lq[lqn[QI-1:0]] <= f_cmd; lqi[lqn[QI-1:0]] <= f_idx; lqn <= lqn + 1;
                        end else if (f_cq) begin
                            cq[cqn[QI-1:0]] <= f_cmd; cqi[cqn[QI-1:0]] <= f_idx; cqn <= cqn + 1;
                        end else if (fop == 4'd2 || fop == 4'd4) begin
                            sq[sqn[QI-1:0]] <= f_cmd; sqi[sqn[QI-1:0]] <= f_idx; sqn <= sqn + 1;
                        end
                        if (!f_ldq && !f_cq && fop != 4'd2 && fop != 4'd4 && fop != 4'd15) begin
                            phase <= PH_IDLE; st_busy <= 1'b0; st_done <= 1'b1; st_err <= 1'b1;
                            err_code <= 8'd1; err_index <= f_idx;
                        end else if ((f_ldq && lqn == QDEPTH - 1) ||
                                     (f_cq && cqn == QDEPTH - 1) ||
                                     ((fop == 4'd2 || fop == 4'd4) && sqn == QDEPTH - 1)) begin
                            phase <= PH_IDLE; st_busy <= 1'b0; st_done <= 1'b1; st_err <= 1'b1;
                            err_code <= 8'd2; err_index <= f_idx;
                        end else if (fop == 4'd15) begin
                            phase <= PH_EXEC;
                            cnt[14] <= cnt[14] + {32'd0, f_idx} + 64'd1;             // commands
                        end else if (f_idx + 1 == cmd_count) begin
                            phase <= PH_IDLE; st_busy <= 1'b0; st_done <= 1'b1; st_err <= 1'b1;
                            err_code <= 8'd3; err_index <= f_idx;
                        end
                    end
                end
            end

            // ---- execution
            if (phase == PH_EXEC) begin
                if (exec_idle) begin
                    phase <= PH_IDLE; st_busy <= 1'b0; st_done <= 1'b1;
                    if (!all_done || !(CMDQ == 0 || fs_done)) begin
                        st_err <= 1'b1; err_code <= 8'd4;
                        err_index <= l_has ? lqi[lh[QI-1:0]] : (c_has ? cqi[ch[QI-1:0]] : sqi[sh[QI-1:0]]);
                    end
                end
                // Compute engine.
                if (c_start) begin
                    c_cmdr <= chead; ch <= ch + 1;
                    c_busy <= chead[3:0] != 4'd7; c_outcnt <= 32'd0; c_written <= 32'd0;
                end
                if (ca) c_tau <= tau + 1;
                if (core_out_valid || v_out_valid) c_outcnt <= c_outcnt + 1;
                wb1_v <= out_wr;
                wb1_line <= c_cline + out_off;
                wb1_end <= core_out_valid && core_out_last;
                wb2_end <= wb1_end;
                wb1_data <= out_masked;
                wb2_v <= wb1_v;
                wb2_line <= wb1_line;
                wb2_data <= wb1_data;
                if (wb_rd) acc_old <= accm[wb1_line];
                if (wb2_v) begin
                    accm[wb2_line] <= wb_value;
                    c_written <= c_written + 1;
                end
                if (c_done) c_busy <= 1'b0;

                // DMA engine.
                if (d_pick) begin
                    d_cmdr <= dc; d_kindr <= d_kind;
                    d_idxr <= pick_load ? lqi[lh[QI-1:0]] : sqi[sh[QI-1:0]];
                    owner_store <= pick_store;
                    if (pick_load) lh <= lh + 1;
                    if (pick_store) sh <= sh + 1;
                end
                if (da) begin
                    d_busy <= !d_finish;
                    d_pipe <= (pipe != 0) ? pipe - 1 : 32'd0;
                    // Request side.
                    d_irow <= irow; d_iaddr <= iaddr; d_ileft <= ileft;
                    if (iss) begin
                        d_irow <= irow + 1;
                        d_iaddr <= iaddr + x_stride;
                        d_ileft <= !i_last;
                    end
                    // Beat side.
                    d_boff <= off; d_brow <= brow; d_bcol <= bcol; d_rowseq <= rowseq;
                    if (beat) begin
                        if (piece_end) begin
                            d_boff <= 32'd0;
                            d_rowseq <= rowseq + st_nblocks;
                            if (k_im2col && bcol + h_len != x_ncols) begin
                                d_bcol <= bcol + h_len;
                            end else begin
                                d_brow <= brow + 1; d_bcol <= 32'd0;
                            end
                        end else d_boff <= off + nb;
                        // Data.
                        for (lk = 0; lk < BUS; lk = lk + 1) begin
                            if (lk < nb) begin
                                if (d_kind == K_PARAMS) prm[off + lk] <= bus_rdata[8*lk +: 8];
                            end
                        end
                        if (k_ld) begin
                            // Clear the lines this beat starts, then write its bytes
                            // (LOAD_IM2COL pad pieces: pad_value).
                            for (lk = 0; lk < BUS; lk = lk + 1) begin
                                if (lk < nb && ld_n[lk] == 0) begin
                                    if (ld_weight) begin
                                        for (q2 = 1; q2 < COLS; q2 = q2 + 1) wsp[ld_l[lk] * COLS + q2] <= 8'd0;
                                    end else begin
                                        for (q2 = 1; q2 < ROWS; q2 = q2 + 1) isp[ld_l[lk] * ROWS + q2] <= 8'd0;
                                    end
                                end
                            end
                            for (lk = 0; lk < BUS; lk = lk + 1) begin
                                if (lk < nb) begin
                                    if (ld_weight) wsp[ld_l[lk] * COLS + ld_n[lk]] <= bus_rdata[8*lk +: 8];
                                    else isp[ld_l[lk] * ROWS + ld_n[lk]] <= h_pad ? pad_value : bus_rdata[8*lk +: 8];
                                end
                            end
                        end
                    end
                    if (d_finish && d_kind == K_PARAMS) begin
                        r_zp <= dc[71:64]; r_min <= dc[79:72]; r_max <= dc[87:80];
                    end
                    if (d_kind == K_GEOM) begin
                        g_addr <= dc[39:8]; g_in_h <= dc[51:40]; g_in_w <= dc[63:52];
                        g_in_c <= dc[79:64]; g_out_w <= dc[91:80];
                        g_kw1 <= dc[99:96]; g_sh1 <= dc[103:100]; g_sw1 <= dc[107:104];
                        g_dh1 <= dc[111:108]; g_dw1 <= dc[115:112];
                        g_pad_t <= dc[119:116]; g_pad_l <= dc[123:120];
                    end
                end
                // STORE reader and PPU pipeline.
                if (d_pick) begin
                    s_seq <= 32'd0; s_r <= 32'd0; s_blk <= 32'd0;
                    st_raw_r <= dc[8];
                end
                if (st_issue) begin
                    s_seq <= rd_seq + 1;
                    if (rd_blk + 1 == st_nblocks) begin
                        s_blk <= 32'd0; s_r <= rd_r + 1;
                    end else begin
                        s_blk <= rd_blk + 1; s_r <= rd_r;
                    end
                    acc_b <= accm[st_rd_line];
                end
                p0_v <= st_issue; p0_seq <= rd_seq; p0_blk <= rd_blk;
                p1_v <= p0_v; p1_seq <= p0_seq; p1_blk <= p0_blk; raw1 <= acc_b;
                p2_v <= p1_v; p2_seq <= p1_seq; p2_blk <= p1_blk; raw2 <= raw1;
                p3_v <= p2_v; p3_seq <= p2_seq; raw3 <= raw2;
                if (p3_v) sbuf[p3_seq % SDEPTH] <= incoming;

                // Tokens: pops of the commands that start, pushes of those that complete.
                tok[L2C] <= tok[L2C] - ((c_start && chead[4]) ? 1 : 0)
                                     + ((d_finish && k_ldq && dc[7]) ? 1 : 0);
                tok[C2L] <= tok[C2L] - ((pick_load && lhead[5]) ? 1 : 0)
                                     + ((c_done && cc[6]) ? 1 : 0);
                tok[C2S] <= tok[C2S] - ((pick_store && shead[4]) ? 1 : 0)
                                     + ((c_done && cc[7]) ? 1 : 0);
                tok[S2C] <= tok[S2C] - ((c_start && chead[5]) ? 1 : 0)
                                     + ((d_finish && !k_ldq && dc[6]) ? 1 : 0);
            end
        end
    end
endmodule // tinyaccel_system
