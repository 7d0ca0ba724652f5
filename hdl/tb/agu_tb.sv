// Testbench of the im2col address generator alone (tinyaccel_im2col_agu; used by
// hdl/tests/agu.rs). +stim=FILE holds one case per line, decimal:
//   g_addr in_h in_w in_c out_w kw sh sw dh dw pad_t pad_l oy0 ox0 ky0 kx0 ic0 nrows ncols
// (natural values; kw, strides and dilations 1..16). For each case the testbench raises
// `start` for one cycle and `adv` in every cycle, so the generator hands out one piece
// per cycle, and writes to +out=FILE a line `case I` and then one line per piece,
// `addr len pad last`, until the piece marked last (or a limit of 1,000,000 pieces).
`default_nettype none
module agu_tb;
    logic clk = 1'b0;
    logic rst = 1'b1;
    always #5 clk <= ~clk;

    logic [31:0] g_addr;
    logic [11:0] g_in_h, g_in_w, g_out_w, c_oy0, c_ox0;
    logic [15:0] g_in_c, c_ic0, c_nrows, c_ncols;
    logic [3:0] g_kw1, g_sh1, g_sw1, g_dh1, g_dw1, g_pad_t, g_pad_l, c_ky0, c_kx0;
    logic start = 1'b0;
    logic adv = 1'b0;
    logic valid, p_pad, p_last;
    logic [31:0] p_addr;
    logic [15:0] p_len;

    tinyaccel_im2col_agu dut (
        .clk(clk), .rst(rst), .g_addr(g_addr), .g_in_h(g_in_h), .g_in_w(g_in_w),
        .g_in_c(g_in_c), .g_out_w(g_out_w), .g_kw1(g_kw1), .g_sh1(g_sh1), .g_sw1(g_sw1),
        .g_dh1(g_dh1), .g_dw1(g_dw1), .g_pad_t(g_pad_t), .g_pad_l(g_pad_l),
        .start(start), .c_oy0(c_oy0), .c_ox0(c_ox0), .c_ky0(c_ky0), .c_kx0(c_kx0),
        .c_ic0(c_ic0), .c_nrows(c_nrows), .c_ncols(c_ncols), .adv(adv), .valid(valid),
        .p_addr(p_addr), .p_len(p_len), .p_pad(p_pad), .p_last(p_last)
    );

    string stim, out;
    int fi, fo, n, ci, np;
    int v [0:18];
    typedef enum logic [1:0] {S_READ, S_RUN, S_DONE} st_t;
    st_t st = S_READ;
    initial begin
        if (!$value$plusargs("stim=%s", stim)) $fatal(1, "missing +stim=FILE");
        if (!$value$plusargs("out=%s", out)) $fatal(1, "missing +out=FILE");
        fi = $fopen(stim, "r");
        if (fi == 0) $fatal(1, "cannot open %s", stim);
        fo = $fopen(out, "w");
        if (fo == 0) $fatal(1, "cannot open %s", out);
        ci = 0;
    end

    /* verilator lint_off BLKSEQ */
    always @(posedge clk) begin
        rst <= 1'b0;
        start <= 1'b0;
        adv <= 1'b0;
        if (!rst) begin
            case (st)
                S_READ: begin
                    n = $fscanf(fi, "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d",
                                v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
                                v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18]);
                    if (n != 19) begin
                        $fclose(fo);
                        st <= S_DONE;
                        $finish;
                    end else begin
                        g_addr <= v[0]; g_in_h <= 12'(v[1]); g_in_w <= 12'(v[2]);
                        g_in_c <= 16'(v[3]); g_out_w <= 12'(v[4]); g_kw1 <= 4'(v[5] - 1);
                        g_sh1 <= 4'(v[6] - 1); g_sw1 <= 4'(v[7] - 1); g_dh1 <= 4'(v[8] - 1);
                        g_dw1 <= 4'(v[9] - 1); g_pad_t <= 4'(v[10]); g_pad_l <= 4'(v[11]);
                        c_oy0 <= 12'(v[12]); c_ox0 <= 12'(v[13]); c_ky0 <= 4'(v[14]);
                        c_kx0 <= 4'(v[15]); c_ic0 <= 16'(v[16]); c_nrows <= 16'(v[17]);
                        c_ncols <= 16'(v[18]);
                        start <= 1'b1;
                        adv <= 1'b1;
                        np <= 0;
                        $fwrite(fo, "case %0d\n", ci);
                        ci <= ci + 1;
                        st <= S_RUN;
                    end
                end
                S_RUN: begin
                    if (!valid) $fatal(1, "case %0d: no piece (valid low) before the last", ci - 1);
                    $fwrite(fo, "%0d %0d %0d %0d\n", p_addr, p_len, p_pad, p_last);
                    np <= np + 1;
                    if (p_last || np > 1000000) st <= S_READ;
                    else adv <= 1'b1;
                end
                default: ;
            endcase
        end
    end
    /* verilator lint_on BLKSEQ */
endmodule
`default_nettype wire
