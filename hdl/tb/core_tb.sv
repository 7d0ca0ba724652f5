// Generic testbench of tinyaccel_core (embedded in the hdl crate, built with
// `verilator --binary`). It plays the role of the controller: it reads the tiles that Rust
// wrote ($readmemh), drives them through the core with the protocol of hdl/src/core.rs,
// loops the array's int32 output rows back into the PPU, and writes every output row and
// the cycle count of every tile to +out=FILE.
//
// Stimulus directory (+stim=DIR):
//   meta.hex   per tile 3 words of 32 bits: n (K for OS, M for WS, the stream slots S
//              for IS), first a vector, first b vector
//   a.hex      a vectors (ROWS bytes, element 0 in the low byte); IS: the COLS preload
//              vectors of each tile
//   b.hex      b vectors (COLS bytes): OS rows of B; WS weight rows in preload order;
//              IS one weight vector per stream slot
//   bias.hex, mult.hex (COLS x 32 bits), shift.hex (COLS x 8 bits), misc.hex (zp 32,
//              act_min 8, act_max 8): one line per tile
// Output lines: `A tile hex` (out_acc row), `Q tile hex` (ppu_q row),
//   `T tile core_cycles ppu_latency`.
`default_nettype none
module tb #(
    parameter int ROWS = 4,
    parameter int COLS = 4,
    parameter int OS = 1,
    parameter int IS = 0,
    parameter int VEC_DEPTH = 262144,
    parameter int TILE_DEPTH = 16384
);
    logic clk = 1'b0;
    logic rst = 1'b1;
    logic in_valid = 1'b0;
    logic in_last = 1'b0;
    logic w_load = 1'b0;
    logic [ROWS*8-1:0] a_vec = '0;
    logic [COLS*8-1:0] b_vec = '0;
    logic out_valid;
    logic out_last;
    logic [COLS*32-1:0] out_acc;
    logic [COLS*32-1:0] bias = '0;
    logic [COLS*32-1:0] mult = '0;
    logic [COLS*8-1:0] shift = '0;
    logic [31:0] zp = '0;
    logic [7:0] act_min = '0;
    logic [7:0] act_max = '0;
    logic ppu_valid_out;
    logic [COLS*8-1:0] ppu_q;

    tinyaccel_core dut (
        .clk(clk), .rst(rst),
        .in_valid(in_valid), .in_last(in_last), .w_load(w_load),
        .a_vec(a_vec), .b_vec(b_vec),
        .out_valid(out_valid), .out_last(out_last), .out_acc(out_acc),
        .ppu_valid_in(out_valid), .ppu_acc(out_acc),
        .ppu_bias(bias), .ppu_mult(mult), .ppu_shift(shift), .ppu_shift_r(shift),
        .ppu_zp(zp), .ppu_act_min(act_min), .ppu_act_max(act_max),
        .ppu_valid_out(ppu_valid_out), .ppu_q(ppu_q)
    );

    always #5 clk <= ~clk;

    logic [31:0] meta [0:3*TILE_DEPTH-1];
    logic [ROWS*8-1:0] amem [0:VEC_DEPTH-1];
    logic [COLS*8-1:0] bmem [0:VEC_DEPTH-1];
    logic [COLS*32-1:0] biasmem [0:TILE_DEPTH-1];
    logic [COLS*32-1:0] multmem [0:TILE_DEPTH-1];
    logic [COLS*8-1:0] shiftmem [0:TILE_DEPTH-1];
    logic [47:0] miscmem [0:TILE_DEPTH-1];

    int fd;
    int tiles;
    int tile = 0;
    longint cycle = 0;
    longint start_cycle = 0;
    longint first_out = 0;
    int out_tile = -1;
    int q_tile = -1;
    int q_total = 0;
    int q_target = 0;
    // Input-stationary: block period and output lines of a tile of S stream slots.
    localparam int P = (ROWS > COLS) ? ROWS : COLS;
    function automatic int is_lines(input int slots);
        return ROWS * ((slots - COLS) / P + 1);
    endfunction
    string stim;
    string outf;

    always @(posedge clk) begin
        cycle <= cycle + 1;
        if (!rst) begin
            // `cycle - start_cycle` counts the cycles from the first vector at the ports
            // to this one, both included (start_cycle is sampled one edge earlier).
            if (out_valid) begin
                $fwrite(fd, "A %0d %h\n", tile, out_acc);
                if (out_tile != tile) begin
                    out_tile <= tile;
                    first_out <= cycle;
                end
            end
            if (out_valid && out_last) begin
                $fwrite(fd, "T %0d %0d\n", tile, cycle - start_cycle);
            end
            if (ppu_valid_out) begin
                $fwrite(fd, "Q %0d %h\n", tile, ppu_q);
                if (q_tile != tile) begin
                    q_tile <= tile;
                    $fwrite(fd, "P %0d %0d\n", tile, cycle - first_out);
                end
                q_total <= q_total + 1;
            end
        end
    end

    // The controller: a clocked state machine (non-blocking assignments only).
    typedef enum logic [2:0] {S_RESET, S_START, S_LOAD, S_FEED, S_WAIT, S_DONE} state_t;
    state_t st = S_RESET;
    int cnt = 0;
    int t = 0;
    logic [31:0] n_cur;
    logic [31:0] a_cur;
    logic [31:0] b_cur;
    assign n_cur = meta[3 * t];
    assign a_cur = meta[3 * t + 1];
    assign b_cur = meta[3 * t + 2];

    initial begin
        if (!$value$plusargs("stim=%s", stim)) $fatal(1, "missing +stim=DIR");
        if (!$value$plusargs("out=%s", outf)) $fatal(1, "missing +out=FILE");
        if (!$value$plusargs("tiles=%d", tiles)) $fatal(1, "missing +tiles=N");
        $readmemh({stim, "/meta.hex"}, meta, 0, 3 * tiles - 1);
        $readmemh({stim, "/a.hex"}, amem);
        $readmemh({stim, "/b.hex"}, bmem);
        $readmemh({stim, "/bias.hex"}, biasmem, 0, tiles - 1);
        $readmemh({stim, "/mult.hex"}, multmem, 0, tiles - 1);
        $readmemh({stim, "/shift.hex"}, shiftmem, 0, tiles - 1);
        $readmemh({stim, "/misc.hex"}, miscmem, 0, tiles - 1);
        fd = $fopen(outf, "w");
        if (fd == 0) $fatal(1, "cannot open %s", outf);
    end

    always @(posedge clk) begin
        case (st)
            S_RESET: begin
                cnt <= cnt + 1;
                if (cnt == 2) begin
                    rst <= 1'b0;
                    st <= (tiles == 0) ? S_DONE : S_START;
                end
            end
            S_START: begin
                // Parameters of tile t, and its first vector (sampled at the next edge).
                tile <= t;
                start_cycle <= cycle;
                q_target <= q_total + ((OS != 0) ? ROWS : (IS != 0) ? is_lines(int'(n_cur)) : int'(n_cur));
                bias <= biasmem[t];
                mult <= multmem[t];
                shift <= shiftmem[t];
                zp <= miscmem[t][47:16];
                act_min <= miscmem[t][15:8];
                act_max <= miscmem[t][7:0];
                cnt <= 1;
                if (OS != 0) begin
                    in_valid <= 1'b1;
                    in_last <= (n_cur == 32'd1);
                    a_vec <= amem[a_cur];
                    b_vec <= bmem[b_cur];
                    st <= S_FEED;
                end else begin
                    w_load <= 1'b1;
                    if (IS != 0) a_vec <= amem[a_cur];
                    else b_vec <= bmem[b_cur];
                    st <= S_LOAD;
                end
            end
            S_LOAD: begin
                if (cnt < ((IS != 0) ? COLS : ROWS)) begin
                    if (IS != 0) a_vec <= amem[a_cur + cnt];
                    else b_vec <= bmem[b_cur + cnt];
                    cnt <= cnt + 1;
                end else begin
                    w_load <= 1'b0;
                    in_valid <= 1'b1;
                    in_last <= (n_cur == 32'd1);
                    if (IS != 0) begin
                        a_vec <= '0;
                        b_vec <= bmem[b_cur];
                    end else begin
                        b_vec <= '0;
                        a_vec <= amem[a_cur];
                    end
                    cnt <= 1;
                    st <= S_FEED;
                end
            end
            S_FEED: begin
                if (cnt < int'(n_cur)) begin
                    in_last <= (cnt == int'(n_cur) - 1);
                    if (IS == 0) a_vec <= amem[a_cur + cnt];
                    if (OS != 0 || IS != 0) b_vec <= bmem[b_cur + cnt];
                    cnt <= cnt + 1;
                end else begin
                    in_valid <= 1'b0;
                    in_last <= 1'b0;
                    a_vec <= '0;
                    b_vec <= '0;
                    st <= S_WAIT;
                end
            end
            S_WAIT: begin
                if (q_total >= q_target) begin
                    t <= t + 1;
                    st <= (t + 1 == tiles) ? S_DONE : S_START;
                end
            end
            default: begin
                $fwrite(fd, "END %0d\n", cycle);
                $fclose(fd);
                $finish;
            end
        endcase
    end
endmodule
`default_nettype wire
